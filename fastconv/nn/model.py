"""Model: a network, a loss and an optimizer, with fit / predict / evaluate /
summary / save / load."""
import json

import numpy as np

from .._config import kept_array_blocks
from .caches import DropsCaches
from .inference import InferencePlan, signature
from .layers import Conv2D, Layer, Sequential, layer_from_config
from .losses import loss_from_config
from .optim import SGD, optimizer_from_config
from .progress import Reporter


def _first_leaf(layer):
    while layer.children():
        if not isinstance(layer, Sequential):
            return None          # a branching first block needs its dx
        layer = layer.children()[0]
    return layer


def _batches(n, batch_size, rng=None):
    order = np.arange(n) if rng is None else rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


class Model(DropsCaches):
    """Trains `network` (a Layer, usually Sequential) on `loss` with `optimizer`.
    input_shape (one sample, e.g. (32, 32, 1)) is only needed by summary()
    before the first fit/predict.  predict and evaluate run the network
    compiled for inference (nn/inference.py: BatchNorm folded, activations
    fused, reused buffers); pickling leaves that compiled copy out."""

    def __init__(self, network, loss, optimizer=None, input_shape=None):
        if not isinstance(network, Layer):
            raise TypeError(f"Model: network must be a fastconv.nn layer, got {type(network).__name__}")
        self.network = network
        self.loss = loss
        self.optimizer = optimizer if optimizer is not None else SGD()
        self.input_shape = None if input_shape is None else tuple(input_shape)
        first = _first_leaf(network)
        if isinstance(first, Conv2D):
            first.need_dx = False     # nothing consumes the gradient of the input

    # ---- training -----------------------------------------------------------
    def train_step(self, x, y):
        """One forward + backward + update on a batch; returns (loss, accuracy).
        Its arrays reuse the last step's memory (fastconv.kept_array_blocks)."""
        with kept_array_blocks():
            pred = self.network.forward(x, training=True)
            loss = self.loss.forward(pred, y)
            self.network.backward(self.loss.backward())
            self.optimizer.step(self.network.parameters())
            return loss, self.loss.accuracy(pred, y)

    def fit(self, x, y, epochs=1, batch_size=32, validation_data=None, verbose=True,
            shuffle=True, seed=0):
        """Mini-batch training; returns the history {"loss", "accuracy",
        "val_loss", "val_accuracy"} with one entry per epoch.

        verbose: 0/False prints nothing; 1/True draws a progress bar (tqdm) with
        the running loss and accuracy when standard error is a terminal, and
        prints one line per epoch when it is not (a log file, a pipe, CI);
        2 always prints one line per epoch."""
        x = np.asarray(x)
        y = np.asarray(y)
        if len(x) != len(y):
            raise ValueError(f"Model.fit: x has {len(x)} samples but y has {len(y)}")
        if batch_size < 1 or epochs < 0:
            raise ValueError("Model.fit: batch_size must be >= 1 and epochs >= 0")
        reporter = Reporter(verbose, epochs)
        self.input_shape = self.input_shape or tuple(x.shape[1:])
        rng = np.random.default_rng(seed)
        history = {"loss": [], "accuracy": []}
        if validation_data is not None:
            history.update(val_loss=[], val_accuracy=[])
        for epoch in range(epochs):
            batches = list(_batches(len(x), batch_size, rng if shuffle else None))
            total_loss = total_acc = 0.0
            seen = 0
            for idx in reporter.batches(batches, epoch):
                loss, acc = self.train_step(x[idx], y[idx])
                total_loss += loss * len(idx)
                total_acc += acc * len(idx)
                seen += len(idx)
                reporter.update(total_loss / seen, total_acc / seen)
            history["loss"].append(total_loss / max(seen, 1))
            history["accuracy"].append(total_acc / max(seen, 1))
            if validation_data is not None:
                scores = self.evaluate(*validation_data, batch_size=max(batch_size, 256))
                history["val_loss"].append(scores["loss"])
                history["val_accuracy"].append(scores["accuracy"])
            reporter.end_epoch(epoch, {name: values[-1] for name, values in history.items()})
        return history

    def predict(self, x, batch_size=256, fused=True):
        """The network's outputs for x, in evaluation mode, batch by batch.

        fused=True (the default) runs the network compiled for inference:
        BatchNorm folded into the preceding convolution or dense layer,
        activations and residual sums fused, activations in reused buffers,
        nothing cached for backward; the outputs equal fused=False's (the
        layers' own forward passes) within float rounding.  The compiled copy
        follows replaced arrays and optimizer steps; after writing into a
        parameter array by hand call clear_inference_cache()."""
        x = np.asarray(x)
        self.input_shape = self.input_shape or tuple(x.shape[1:])
        if fused:
            plan = self._inference_plan()
            run = plan.run
        else:
            def run(batch):
                return self.network.forward(batch, training=False)
        outs = [run(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        return np.concatenate(outs) if outs else np.empty((0,))

    def _inference_plan(self):
        plan = getattr(self, "_inference", None)
        if plan is None or plan.signature != signature(self.network):
            plan = self._inference = InferencePlan(self.network)
        return plan

    def clear_inference_cache(self):
        """Forget the compiled inference copy (rebuilt by the next predict)."""
        self._inference = None

    def evaluate(self, x, y, batch_size=256):
        """{"loss": mean loss, "accuracy": fraction correct} over (x, y)."""
        pred = self.predict(x, batch_size)
        return {"loss": self.loss.forward(pred, y), "accuracy": self.loss.accuracy(pred, y)}

    # ---- description ----------------------------------------------------------
    def num_params(self):
        return self.network.num_params()

    def summary(self, input_shape=None, print_fn=print):
        """A table of the top-level layers, their output shapes and parameter
        counts; returns it as a string (and prints it)."""
        shape = tuple(input_shape) if input_shape is not None else self.input_shape
        layers = self.network.children() if isinstance(self.network, Sequential) else [self.network]
        rows = [("layer", "output shape", "params")]
        for layer in layers:
            if shape is not None:
                shape = layer.output_shape(shape)
            name = type(layer).__name__
            rows.append((name, "?" if shape is None else str((None,) + tuple(shape)),
                         f"{layer.num_params():,}"))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        line = "-" * (sum(widths) + 6)
        text = [line, "  ".join(c.ljust(w) for c, w in zip(rows[0], widths)), line]
        text += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows[1:]]
        text += [line, f"total parameters: {self.num_params():,}", line]
        table = "\n".join(text)
        if print_fn is not None:
            print_fn(table)
        return table

    # ---- persistence ------------------------------------------------------------
    def save(self, path):
        """Architecture, loss, optimizer settings and weights in one .npz file."""
        meta = {"network": self.network.get_config(), "loss": self.loss.get_config(),
                "optimizer": self.optimizer.get_config(),
                "input_shape": None if self.input_shape is None else list(self.input_shape)}
        arrays = {"__meta__": np.array(json.dumps(meta))}
        for p, layer, key in self.network.parameters():
            arrays["param:" + p] = layer.params[key]
        for p, layer, key in self.network.named_buffers():
            arrays["buffer:" + p] = layer.buffers[key]
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path):
        """The model saved by save(path), weights included."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["__meta__"]))
            network = layer_from_config(meta["network"])
            for p, layer, key in network.parameters():
                layer.params[key] = data["param:" + p].copy()
            for p, layer, key in network.named_buffers():
                layer.buffers[key] = data["buffer:" + p].copy()
        return cls(network, loss_from_config(meta["loss"]),
                   optimizer_from_config(meta["optimizer"]), meta["input_shape"])

