"""Max, average and global-average pooling: argument policy around the C kernels."""
from dataclasses import dataclass

import numpy as np

from . import _args, _native
from ._config import get_num_threads


@dataclass
class PoolGeometry:
    """A validated pooling in NHWC terms; the bridge reads it field by field."""
    n: int
    h: int
    w: int
    c: int
    size: tuple       # window (rows, columns)
    stride: tuple
    pads: tuple       # ((top, bottom), (left, right))
    ho: int
    wo: int


def _pool_setup(func, x, size, stride, padding, layout):
    """Validate the arguments; returns (x4, unbatched, dtype, layout, PoolGeometry)."""
    x = _args.as_array(x, "x", func)
    layout = _args.check_layout(layout, func)
    dtype = _args.result_dtype(func, x=x)
    x4, unbatched = _args.batched4(x, "x", func)
    n, h, w, c = _args.nhwc_view(x4, layout).shape
    size = _args.as_pair(size, "size", func, 1)
    stride, _, pads, (ho, wo) = _args.window_geometry(func, (h, w), size,
                                                      size if stride is None else stride,
                                                      padding, pool=True)
    return x4, unbatched, dtype, layout, PoolGeometry(n, h, w, c, size, stride, pads, ho, wo)


def _pool(kind, func, x, size, stride, padding, layout):
    x4, unbatched, dtype, layout, geo = _pool_setup(func, x, size, stride, padding, layout)
    y, yv = _args.new_tensor((geo.n, geo.ho, geo.wo, geo.c), layout, dtype, unbatched, func,
                             "the output")
    if y.size:
        xv = _args.nhwc_view(_args.prepare(x4, dtype), layout)
        _native.pool2d(kind, xv, yv, geo, get_num_threads())
    return y


def _pool_backward(kind, func, dy, x, size, stride, padding, layout):
    x4, unbatched, dtype, layout, geo = _pool_setup(func, x, size, stride, padding, layout)
    dy = _args.as_array(dy, "dy", func)
    dtype = _args.result_dtype(func, dy=dy, x=x4)
    expected = _args.from_nhwc_shape((geo.n, geo.ho, geo.wo, geo.c), layout)[unbatched:]
    if dy.shape != expected:
        raise ValueError(f"{func}: dy has shape {dy.shape}, but the pooling output has shape "
                         f"{expected}")
    dx, dxv = _args.new_tensor((geo.n, geo.h, geo.w, geo.c), layout, dtype, unbatched, func,
                               "dx")
    if dx.size:
        dy4 = dy[np.newaxis] if unbatched else dy
        dyv = _args.nhwc_view(_args.prepare(dy4, dtype), layout)
        xv = _args.nhwc_view(_args.prepare(x4, dtype), layout)
        _native.pool2d_backward(kind, dyv, xv, dxv, geo, get_num_threads())
    return dx


def max_pool2d(x, size, stride=None, padding=0, *, layout="NHWC"):
    """Max over size windows moved by stride (default: size); padding is -inf."""
    return _pool("max", "max_pool2d", x, size, stride, padding, layout)


def avg_pool2d(x, size, stride=None, padding=0, *, layout="NHWC"):
    """Mean over size windows, divided by the count of real (unpadded) pixels."""
    return _pool("avg", "avg_pool2d", x, size, stride, padding, layout)


def max_pool2d_backward(dy, x, size, stride=None, padding=0, *, layout="NHWC"):
    """dx of max_pool2d: each dy goes to the first maximum of its window."""
    return _pool_backward("max", "max_pool2d_backward", dy, x, size, stride, padding, layout)


def avg_pool2d_backward(dy, x, size, stride=None, padding=0, *, layout="NHWC"):
    """dx of avg_pool2d: each dy is shared among the real pixels of its window."""
    return _pool_backward("avg", "avg_pool2d_backward", dy, x, size, stride, padding, layout)


def global_avg_pool2d(x, *, layout="NHWC"):
    """Mean over the spatial axes: (N, C) for a batch, (C,) for one image."""
    func = "global_avg_pool2d"
    x = _args.as_array(x, "x", func)
    layout = _args.check_layout(layout, func)
    dtype = _args.result_dtype(func, x=x)
    x4, unbatched = _args.batched4(x, "x", func)
    xv = _args.nhwc_view(x4, layout)
    n, h, w, c = xv.shape
    if h == 0 or w == 0:
        raise ValueError(f"{func}: x has no pixels to average (shape {x.shape}, "
                         f"layout={layout!r})")
    y = np.empty((n, c), dtype)
    if y.size:
        _native.global_avg_pool2d(_args.nhwc_view(_args.prepare(x4, dtype), layout), y,
                                  get_num_threads())
    return y[0] if unbatched else y
