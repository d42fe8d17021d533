"""predict: a model's outputs over the batch chunks of a dask array."""
import math
import pickle
import uuid

import dask
import dask.array as da
import numpy as np
from dask.base import tokenize

from .. import _args
from ..nn import Model
from .workers import configure_workers, private, use_task_threads, usable_cores


def predict(model, x, batch_size=None):
    """model.predict over the chunks of x along the batch axis, as a dask array
    (compute it, or keep building on it).  x: a dask array, or a NumPy array
    (then split into chunks of batch_size samples, or by default into four
    chunks per thread of the cluster).  batch_size rechunks a dask array's
    batch axis.  With a dask.distributed client, the model is sent to every
    worker once, before the graph runs; without one it is one key of the
    graph.  Each thread predicts with a private copy of it."""
    func = "fastconv.dask.predict"
    if not isinstance(model, Model):
        raise TypeError(f"{func}: model must be a fastconv.nn.Model, got {type(model).__name__}")
    if batch_size is not None:
        batch_size = _args.check_int(batch_size, "batch_size", func, 1)
    client = _default_client()
    x = _batched(x, batch_size, client, func)
    sample = tuple(x.shape[1:])
    out_shape = tuple(model.network.output_shape(sample))
    dtype = next((layer.params[key].dtype for _, layer, key in model.network.parameters()),
                 np.dtype(np.float32))
    x = x.rechunk({axis: -1 for axis in range(1, x.ndim)})
    if client is not None:
        # on every worker before the tasks are placed: were the model one task's
        # result, the scheduler would run every block where it lies
        configure_workers(client)
        held = _model_on_workers(client, model)
    else:
        held = dask.delayed(model, name=f"fastconv-model-{uuid.uuid4().hex}", pure=True,
                            traverse=False)
    extra = dict(drop_axis=list(range(1 + len(out_shape), x.ndim))) \
        if len(out_shape) < len(sample) else \
        dict(new_axis=list(range(x.ndim, 1 + len(out_shape))))
    return x.map_blocks(_predict_block, model=held, out_shape=out_shape, out_dtype=dtype,
                        dtype=dtype,
                        chunks=(x.chunks[0],) + tuple((n,) for n in out_shape),
                        meta=np.empty((0,) * (1 + len(out_shape)), dtype), **extra)


_sent = {}      # client id -> (token, future) of the last model predict sent to its workers


def _model_on_workers(client, model):
    """A future of the model, on every worker.  The last model sent stays
    there while unchanged (its token covers every array and attribute), so
    predicting again sends nothing and the workers keep it warm."""
    token = model_token(model)
    held = _sent.get(client.id)
    if held is not None and held[0] == token and held[1].status == "finished":
        return held[1]
    future = client.scatter(model, broadcast=True, hash=False, direct=True)
    _sent[client.id] = (token, future)
    return future


def model_token(model):
    """A hash of everything a pickle of the model holds: the pickle stream
    without its arrays, and the arrays by dask's fast hash."""
    arrays = []
    stream = pickle.dumps(model, protocol=5, buffer_callback=arrays.append)
    return tokenize(stream, [np.asarray(buf.raw()) for buf in arrays])


def _default_client():
    """The dask.distributed client computations go to, if there is one."""
    import sys
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        return distributed.default_client()
    except ValueError:
        return None


def _batched(x, batch_size, client, func):
    if isinstance(x, da.Array):
        if x.ndim < 2:
            raise ValueError(f"{func}: x must hold a batch of samples (at least 2-D), got "
                             f"shape {x.shape}")
        return x if batch_size is None else x.rechunk({0: batch_size})
    x = _args.as_array(x, "x", func)
    if x.ndim < 2:
        raise ValueError(f"{func}: x must hold a batch of samples (at least 2-D), got "
                         f"shape {x.shape}")
    if batch_size is None:
        threads = usable_cores() if client is None else \
            sum(client.nthreads().values()) or usable_cores()
        batch_size = max(1, math.ceil(len(x) / (4 * threads)))
    return da.from_array(x, chunks=(batch_size,) + x.shape[1:])


def _predict_block(block, *, model, out_shape, out_dtype):
    if len(block) == 0:
        return np.empty((0,) + out_shape, out_dtype)
    with use_task_threads(), private(model) as mine:
        return mine.predict(block, batch_size=len(block))
