"""fit: synchronous data-parallel training on a dask.distributed cluster.

Each global batch (the batches Model.fit would draw) is split into one shard
per worker.  Every worker runs the forward and backward pass of its shard on
its replica of the model, with the parameters of this step, and returns its
gradients; the client sums them, weighted by shard size, in worker order, and
the model's optimizer applies the sum once.  The next step sends the new
parameters to every worker, so the replicas never drift.

Per step, what crosses the network is, for each worker, the parameters and
buffers (client -> worker) and the gradients (worker -> client): about
2 x 4 bytes x parameters x workers through the client.

BatchNorm normalises each shard with its own statistics (as PyTorch's
DistributedDataParallel does) and the running statistics are the first
worker's (DDP's broadcast_buffers); Dropout draws its masks from each
worker's generator.  Without those layers the result equals Model.fit's on
the same global batches within float32 rounding.
"""
import numpy as np

from .. import _args
from ..nn import Model
from ..nn.model import _batches
from .workers import configure_workers, private, use_task_threads, worker_info


def fit(model, x, y, *, client, epochs=1, batch_size=32, shuffle=True, seed=0):
    """Train model on (x, y) across the client's workers; returns the history
    {"loss": [...], "accuracy": [...]} (one entry per epoch) as Model.fit does.
    x and y are NumPy arrays (a dask array is computed first); they are sent to
    every worker once.  The model's parameters and optimizer state are updated
    in place on the client."""
    func = "fastconv.dask.fit"
    if not isinstance(model, Model):
        raise TypeError(f"{func}: model must be a fastconv.nn.Model, got {type(model).__name__}")
    from distributed import Client
    if not isinstance(client, Client):
        raise TypeError(f"{func}: client must be a dask.distributed Client, got "
                        f"{type(client).__name__}")
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"{func}: x has {len(x)} samples but y has {len(y)}")
    batch_size = _args.check_int(batch_size, "batch_size", func, 1)
    epochs = _args.check_int(epochs, "epochs", func, 0)
    workers = sorted(worker_info(client))
    if not workers:
        raise ValueError(f"{func}: the client has no workers")
    configure_workers(client)
    model.input_shape = model.input_shape or tuple(x.shape[1:])
    data = client.scatter([x, y, model], broadcast=True, hash=False, direct=True)
    rng = np.random.default_rng(seed)
    history = {"loss": [], "accuracy": []}
    try:
        for _ in range(epochs):
            total_loss = total_acc = 0.0
            for idx in _batches(len(x), batch_size, rng if shuffle else None):
                loss, acc = _step(client, model, data, idx, workers)
                total_loss += loss * len(idx)
                total_acc += acc * len(idx)
            history["loss"].append(total_loss / max(len(x), 1))
            history["accuracy"].append(total_acc / max(len(x), 1))
    finally:
        client.cancel(data)
    return history


def network_state(network):
    """What a worker needs of the model at a step: parameters and buffers by path."""
    return {"params": {p: layer.params[k] for p, layer, k in network.parameters()},
            "buffers": {p: layer.buffers[k] for p, layer, k in network.named_buffers()}}


def _step(client, model, data, idx, workers):
    """One global batch: shards to workers, gradients back, one update."""
    shards = [s for s in np.array_split(idx, len(workers)) if len(s)]
    [state] = client.scatter([network_state(model.network)], broadcast=True, hash=False,
                             direct=True)
    futures = [client.submit(shard_step, *data, state, shard, k == 0, workers=[worker],
                             allow_other_workers=True, pure=False)
               for k, (shard, worker) in enumerate(zip(shards, workers))]
    results = client.gather(futures, direct=True)
    weights = [len(s) / len(idx) for s in shards]
    apply_gradients(model, [r["grads"] for r in results], weights)
    for path, layer, key in model.network.named_buffers():
        layer.buffers[key] = results[0]["buffers"][path]
    return (sum(w * r["loss"] for w, r in zip(weights, results)),
            sum(w * r["accuracy"] for w, r in zip(weights, results)))


def apply_gradients(model, grads, weights):
    """Sum each parameter's gradients (weighted, in the given order, in float64)
    and let the optimizer apply the sums once."""
    for path, layer, key in model.network.parameters():
        layer.grads.pop(key, None)
        if all(path in g for g in grads):
            total = sum(w * g[path].astype(np.float64) for w, g in zip(weights, grads))
            layer.grads[key] = total.astype(layer.params[key].dtype)
    model.optimizer.step(model.network.parameters())


def shard_step(x, y, model, state, idx, with_buffers):
    """On a worker: forward and backward of the samples idx with the step's
    parameters; returns the gradients, the mean loss and accuracy of the shard
    and (with_buffers) the buffers after the forward pass."""
    with use_task_threads(), private(model) as replica:
        network = replica.network
        for path, layer, key in network.parameters():
            layer.params[key] = state["params"][path]
            layer.grads.pop(key, None)
        for path, layer, key in network.named_buffers():
            layer.buffers[key] = state["buffers"][path]
        xb, yb = x[idx], y[idx]
        pred = network.forward(xb, training=True)
        loss = replica.loss.forward(pred, yb)
        network.backward(replica.loss.backward())
        return {"grads": {p: layer.grads[k] for p, layer, k in network.parameters()
                          if k in layer.grads},
                "buffers": network_state(network)["buffers"] if with_buffers else None,
                "loss": loss, "accuracy": replica.loss.accuracy(pred, yb)}
