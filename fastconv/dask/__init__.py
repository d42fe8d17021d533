"""fastconv on Dask (the optional extra: pip install "fastconv[dask]").

- conv2d, max_pool2d, avg_pool2d: dask arrays chunked along the batch and the
  image; blocks exchange halos and give what fastconv gives on the whole array.
- predict(model, x, batch_size=None): a model's outputs over batch chunks.
- fit(model, x, y, *, client, ...): synchronous data-parallel training on a
  dask.distributed cluster.
- configure_workers(client): fastconv's threads per worker (workers.py).

fastconv's kernels release the GIL, so Dask's threaded scheduler and the
threads of distributed workers run them in parallel.
"""
try:
    import dask.array  # noqa: F401
except ImportError as exc:          # pragma: no cover - depends on the installation
    raise ImportError("fastconv.dask needs dask: pip install \"fastconv[dask]\"") from exc

from .inference import predict
from .spatial import avg_pool2d, conv2d, max_pool2d
from .training import fit
from .workers import configure_workers

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "predict", "fit", "configure_workers"]
