"""conv2d, max_pool2d and avg_pool2d on dask arrays chunked along the batch
and the image: each block computes its outputs with fastconv, borrowing a halo
from the next block (halo.py says where blocks start and what they borrow)."""
import uuid

import dask
import dask.array as da
import numpy as np

from .. import _args
from .. import conv as _conv
from .. import pool as _pool
from .halo import plan_axis
from .workers import use_task_threads

_AXES = {"NHWC": (1, 2, 3), "NCHW": (2, 3, 1)}     # (height, width, channels) of x


def conv2d(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1, layout="NHWC",
           activation=None, algorithm="auto"):
    """fastconv.conv2d of a dask array x (batched, any chunks along the batch,
    height and width; channels become one chunk); w and b are NumPy arrays.
    The result is a dask array chunked like x, equal to fastconv.conv2d of the
    computed x.  The algorithm is chosen once, for the whole image, and used by
    every block."""
    func = "fastconv.dask.conv2d"
    x = _dask_input(x, func)
    w = _args.as_array(w, "w", func)
    b = None if b is None else _args.as_array(b, "b", func)
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups,
                  layout=layout, activation=activation)
    # an empty batch checks every argument as conv2d does and gives the dtype and shape
    probe = _conv.conv2d(_empty_batch(x), w, b, algorithm=algorithm, **kwargs)
    layout = _args.check_layout(layout, func)
    kernel = w.shape[:2] if layout == "NHWC" else w.shape[2:]
    stride, dilation, pads, _ = _args.window_geometry(func, _spatial(x, layout), kernel, stride,
                                                      padding, dilation)
    extent = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel))
    plan = _conv.conv2d_plan(x.shape, w.shape, algorithm=algorithm, dtype=probe.dtype, **{
        k: v for k, v in kwargs.items() if k != "activation"})["forward"]["algorithm"]
    align = 4 if plan == "winograd" else 1        # whole 4x4 output tiles in every block
    plans = _plans(x, layout, probe, extent, stride, pads, align)
    if not _every_block_runs(plan, plans, x, layout, w.shape, probe.dtype, kwargs):
        plan = "auto"       # then blocks may differ from the whole image within rounding
    weights = dask.delayed({"w": w, "b": b}, name=f"fastconv-weights-{uuid.uuid4().hex}",
                           pure=True)
    options = dict(kwargs, algorithm=plan, stride=stride, dilation=dilation)
    del options["padding"]                  # each block has its own
    return _sliding(x, layout, probe, plans, _conv_block, options, weights=weights)


def max_pool2d(x, size, stride=None, padding=0, *, layout="NHWC"):
    """fastconv.max_pool2d of a dask array x chunked along the batch, height
    and width; equal to fastconv.max_pool2d of the computed x."""
    return _pooling("max", x, size, stride, padding, layout)


def avg_pool2d(x, size, stride=None, padding=0, *, layout="NHWC"):
    """fastconv.avg_pool2d of a dask array x chunked along the batch, height
    and width (windows divide by their real pixels, as in fastconv); equal to
    fastconv.avg_pool2d of the computed x."""
    return _pooling("avg", x, size, stride, padding, layout)


def _pooling(kind, x, size, stride, padding, layout):
    func = f"fastconv.dask.{kind}_pool2d"
    x = _dask_input(x, func)
    op = getattr(_pool, f"{kind}_pool2d")
    probe = op(_empty_batch(x), size, stride, padding, layout=layout)
    layout = _args.check_layout(layout, func)
    size = _args.as_pair(size, "size", func, 1)
    stride, _, pads, _ = _args.window_geometry(func, _spatial(x, layout), size,
                                               size if stride is None else stride, padding,
                                               pool=True)
    plans = _plans(x, layout, probe, size, stride, pads, 1)
    return _sliding(x, layout, probe, plans, _pool_block,
                    dict(kind=kind, size=size, stride=stride, layout=layout))


def _dask_input(x, func):
    if not isinstance(x, da.Array):
        raise TypeError(f"{func}: x must be a dask array (dask.array.from_array wraps a "
                        f"NumPy array), got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{func}: x must be a batch of images (4-D), got {x.ndim}-D "
                         f"shape {x.shape}")
    if any(np.isnan(c).any() for c in x.chunks):
        raise ValueError(f"{func}: x has unknown chunk sizes; call x.compute_chunk_sizes() first")
    return x


def _empty_batch(x):
    return np.empty((0,) + x.shape[1:], x.dtype)


def _spatial(x, layout):
    h, w, _ = _AXES[layout]
    return x.shape[h], x.shape[w]


def _plans(x, layout, probe, extent, stride, pads, align):
    """The blocks of the height and width axes (probe: the empty result)."""
    return [plan_axis(x.shape[axis], x.chunks[axis], extent[i], stride[i], pads[i][0],
                      probe.shape[axis], align)
            for i, axis in enumerate(_AXES[layout][:2])]


def _every_block_runs(algorithm, plans, x, layout, w_shape, dtype, kwargs):
    """Whether the algorithm chosen for the whole image applies to every block."""
    h_axis, w_axis, c_axis = _AXES[layout]
    kwargs = {k: v for k, v in kwargs.items() if k != "activation"}
    for rows, (top, bottom) in _block_extents(plans[0]):
        for cols, (left, right) in _block_extents(plans[1]):
            shape = [1, 0, 0, 0]
            shape[h_axis], shape[w_axis], shape[c_axis] = rows, cols, x.shape[c_axis]
            try:
                _conv.conv2d_plan(tuple(shape), w_shape, dtype=dtype, algorithm=algorithm,
                                  **dict(kwargs, padding=((top, bottom), (left, right))))
            except ValueError:
                return False
    return True


def _block_extents(plan):
    """(rows with the halo, pads) of each block of one axis."""
    last = len(plan.in_chunks) - 1
    return {(c + (plan.depth if k < last else 0), plan.pads[k])
            for k, c in enumerate(plan.in_chunks)}


def _sliding(x, layout, probe, plans, block_fn, options, **delayed):
    """Rechunk x to the planned blocks and map block_fn over them with their
    halos; probe is the empty result (dtype, output sizes)."""
    h_axis, w_axis, c_axis = _AXES[layout]
    x = x.rechunk({h_axis: plans[0].in_chunks, w_axis: plans[1].in_chunks, c_axis: -1})
    out_chunks = [x.chunks[0], None, None, None]
    out_chunks[h_axis], out_chunks[w_axis] = plans[0].out_chunks, plans[1].out_chunks
    out_chunks[c_axis] = (probe.shape[c_axis],)
    return da.map_overlap(
        block_fn, x, depth={h_axis: (0, plans[0].depth), w_axis: (0, plans[1].depth)},
        boundary="none", trim=False, allow_rechunk=False, chunks=tuple(out_chunks),
        dtype=probe.dtype, meta=probe[:0], axes=(h_axis, w_axis), pads=[p.pads for p in plans],
        sizes=[p.out_chunks for p in plans], options=options, **delayed)


def _block_geometry(block_id, axes, pads, sizes):
    """The padding of this block and the output slice it keeps."""
    i, j = block_id[axes[0]], block_id[axes[1]]
    keep = [slice(None)] * 4
    keep[axes[0]], keep[axes[1]] = slice(0, sizes[0][i]), slice(0, sizes[1][j])
    return (pads[0][i], pads[1][j]), tuple(keep)


def _conv_block(block, *, axes, pads, sizes, options, weights, block_id=None):
    padding, keep = _block_geometry(block_id, axes, pads, sizes)
    with use_task_threads():
        y = _conv.conv2d(block, weights["w"], weights["b"], padding=padding, **options)
    return np.ascontiguousarray(y[keep])


def _pool_block(block, *, axes, pads, sizes, options, block_id=None):
    padding, keep = _block_geometry(block_id, axes, pads, sizes)
    options = dict(options)
    op = getattr(_pool, f"{options.pop('kind')}_pool2d")
    with use_task_threads():
        y = op(block, padding=padding, **options)
    return np.ascontiguousarray(y[keep])
