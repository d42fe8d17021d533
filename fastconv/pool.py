"""Max, average, global pooling and max unpooling: argument policy around the
C kernels."""
from dataclasses import dataclass

import numpy as np

from . import _args, _native
from ._config import get_num_threads

# The kernels keep a window's argmax position in the data's precision: exact
# for float32 windows of fewer than 2**24 pixels.
_MAX_ARGMAX_TAPS = {np.dtype(np.float32): 2**24, np.dtype(np.float64): 2**53}


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
    dilation: tuple = (1, 1)
    count_include_pad: bool = False


@dataclass
class _Pooling:
    """What every pooling function validates first."""
    x4: np.ndarray
    unbatched: bool
    dtype: np.dtype
    layout: str
    geo: PoolGeometry


def _pool_setup(func, x, size, stride, padding, layout, dilation=1, ceil_mode=False,
                count_include_pad=False):
    x = _args.as_array(x, "x", func)
    layout = _args.check_layout(layout, func)
    dtype = _args.result_dtype(func, x=x)
    ceil_mode = _args.check_flag(ceil_mode, "ceil_mode", func)
    count_include_pad = _args.check_flag(count_include_pad, "count_include_pad", func)
    x4, unbatched = _args.batched4(x, "x", func)
    n, h, w, c = _args.nhwc_view(x4, layout).shape
    size = _args.as_pair(size, "size", func, 1)
    stride, dilation, pads, (ho, wo) = _args.window_geometry(
        func, (h, w), size, size if stride is None else stride, padding, dilation, pool=True,
        ceil_mode=ceil_mode)
    geo = PoolGeometry(n, h, w, c, size, stride, pads, ho, wo, dilation, count_include_pad)
    return _Pooling(x4, unbatched, dtype, layout, geo)


def _check_argmax_window(func, p):
    if p.geo.size[0] * p.geo.size[1] >= _MAX_ARGMAX_TAPS[p.dtype]:
        raise ValueError(f"{func}: a {p.dtype} window of {p.geo.size[0]}x{p.geo.size[1]} "
                         f"pixels is too large to locate its maximum; use float64")


def _output_shape(p):
    return _args.from_nhwc_shape((p.geo.n, p.geo.ho, p.geo.wo, p.geo.c), p.layout)[p.unbatched:]


def _pool(kind, func, p, return_indices=False, out=None):
    y, yv = _args.output_tensor(out, (p.geo.n, p.geo.ho, p.geo.wo, p.geo.c), p.layout, p.dtype,
                                p.unbatched, func, (p.x4,))
    idx, idxv = None, None
    if return_indices:
        _check_argmax_window(func, p)
        idx, idxv = _args.new_tensor((p.geo.n, p.geo.ho, p.geo.wo, p.geo.c), p.layout,
                                     np.int64, p.unbatched, func, "the indices")
    if y.size:
        xv = _args.nhwc_view(_args.prepare(p.x4, p.dtype), p.layout)
        _native.pool2d(kind, xv, yv, idxv, p.geo, get_num_threads())
    y = _args.into_out(out, y)
    return (y, idx) if return_indices else y


def pool2d_runner(kind, x_shape, x_dtype, size, stride=None, padding=0):
    """max_pool2d's ("max") or avg_pool2d's ("avg") checks and geometry done
    once, for NHWC batches of one shape and dtype (an inference plan's step):
    returns (the result's shape, run); run(x, y) writes the pooling of x into
    y, which must have that shape and x's dtype, C-contiguous or a channel
    slice of such an array (run checks nothing)."""
    func = f"{kind}_pool2d"
    x = np.lib.stride_tricks.as_strided(np.zeros(1, x_dtype), x_shape, [0] * len(x_shape))
    p = _pool_setup(func, x, size, stride, padding, "NHWC")

    def run(x, y):
        if y.size:
            _native.pool2d(kind, x, y, None, p.geo, get_num_threads())
        return y
    return _output_shape(p), run


def _pool_backward(kind, func, dy, p):
    dy = _args.as_array(dy, "dy", func)
    dtype = _args.result_dtype(func, dy=dy, x=p.x4)
    expected = _output_shape(p)
    if dy.shape != expected:
        raise ValueError(f"{func}: dy has shape {dy.shape}, but the pooling output has shape "
                         f"{expected}")
    if kind == "max":
        _check_argmax_window(func, p)
    geo = p.geo
    dx, dxv = _args.new_tensor((geo.n, geo.h, geo.w, geo.c), p.layout, dtype, p.unbatched, func,
                               "dx")
    if dx.size:
        dy4 = dy[np.newaxis] if p.unbatched else dy
        dyv = _args.nhwc_view(_args.prepare(dy4, dtype), p.layout)
        xv = _args.nhwc_view(_args.prepare(p.x4, dtype), p.layout)
        _native.pool2d_backward(kind, dyv, xv, dxv, geo, get_num_threads())
    return dx


def max_pool2d(x, size, stride=None, padding=0, *, dilation=1, ceil_mode=False,
               return_indices=False, layout="NHWC", out=None):
    """Max over size windows moved by stride (default: size); padding is -inf.
    dilation spaces the window's taps; ceil_mode rounds the number of windows
    up (a last window that would start in the bottom/right padding is dropped,
    as in PyTorch).  return_indices=True also returns, in an int64 array shaped
    like the result, where each maximum is: h * W + w in its image's H x W
    plane (PyTorch's convention), the first maximum in row-major order.  out
    (optional) receives the result, as conv2d's."""
    func = "max_pool2d"
    return_indices = _args.check_flag(return_indices, "return_indices", func)
    p = _pool_setup(func, x, size, stride, padding, layout, dilation, ceil_mode)
    return _pool("max", func, p, return_indices, out)


def avg_pool2d(x, size, stride=None, padding=0, *, dilation=1, ceil_mode=False,
               count_include_pad=False, layout="NHWC", out=None):
    """Mean over size windows, divided by the count of real (unpadded) pixels,
    or with count_include_pad=True by the count of pixels of the padded input
    (ceil mode's overhang past the padding never counts).  dilation and
    ceil_mode and out as for max_pool2d."""
    p = _pool_setup("avg_pool2d", x, size, stride, padding, layout, dilation, ceil_mode,
                    count_include_pad)
    return _pool("avg", "avg_pool2d", p, out=out)


def max_pool2d_backward(dy, x, size, stride=None, padding=0, *, dilation=1, ceil_mode=False,
                        layout="NHWC"):
    """dx of max_pool2d: each dy goes to the first maximum of its window."""
    func = "max_pool2d_backward"
    p = _pool_setup(func, x, size, stride, padding, layout, dilation, ceil_mode)
    return _pool_backward("max", func, dy, p)


def avg_pool2d_backward(dy, x, size, stride=None, padding=0, *, dilation=1, ceil_mode=False,
                        count_include_pad=False, layout="NHWC"):
    """dx of avg_pool2d: each dy is shared among the real pixels of its window
    (by the same divisor as the forward pass)."""
    func = "avg_pool2d_backward"
    p = _pool_setup(func, x, size, stride, padding, layout, dilation, ceil_mode,
                    count_include_pad)
    return _pool_backward("avg", func, dy, p)


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


def _global_setup(func, x, layout):
    """max pooling with one window over the whole image."""
    x = _args.as_array(x, "x", func)
    x4, _ = _args.batched4(x, "x", func)
    _, h, w, _ = _args.nhwc_view(x4, _args.check_layout(layout, func)).shape
    if h == 0 or w == 0:
        raise ValueError(f"{func}: x has no pixels to pool (shape {x.shape}, "
                         f"layout={layout!r})")
    return _pool_setup(func, x, (h, w), 1, 0, layout)


def global_max_pool2d(x, *, layout="NHWC"):
    """Max over the spatial axes (NaN propagates): (N, C) for a batch, (C,) for
    one image."""
    p = _global_setup("global_max_pool2d", x, layout)
    return np.squeeze(_pool("max", "global_max_pool2d", p), axis=_spatial_axes(p))


def global_max_pool2d_backward(dy, x, *, layout="NHWC"):
    """dx of global_max_pool2d: each dy (N, C) goes to the first maximum of its
    channel's plane (row-major order)."""
    func = "global_max_pool2d_backward"
    p = _global_setup(func, x, layout)
    dy = _args.as_array(dy, "dy", func)
    flat = _output_shape(p)
    expected = tuple(np.squeeze(np.empty(flat, bool), axis=_spatial_axes(p)).shape)
    if dy.shape != expected:
        raise ValueError(f"{func}: dy has shape {dy.shape}, but global_max_pool2d's output "
                         f"has shape {expected}")
    return _pool_backward("max", func, dy.reshape(flat), p)


def _spatial_axes(p):
    """The positions of the (1, 1) spatial axes in a pooled shape of p's layout."""
    first = 1 - p.unbatched
    return (first, first + 1) if p.layout == "NHWC" else (first + 1, first + 2)


def max_unpool2d(x, indices, size, stride=None, padding=0, *, output_size=None, layout="NHWC"):
    """The inverse of max_pool2d(..., return_indices=True): zeros, with each
    value of x put at its index (h * W + w in its plane).  The output is
    (H, W) = output_size, by default ((Ho - 1) * stride - pad_top - pad_bottom
    + size) per axis, as PyTorch.  Where indices repeat, the last value in
    row-major order is kept."""
    func = "max_unpool2d"
    x = _args.as_array(x, "x", func)
    indices = _args.as_array(indices, "indices", func)
    layout = _args.check_layout(layout, func)
    dtype = _args.result_dtype(func, x=x)
    if indices.shape != x.shape:
        raise ValueError(f"{func}: indices has shape {indices.shape} but x has {x.shape}")
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{func}: indices must be integers, got {indices.dtype}")
    x4, unbatched = _args.batched4(x, "x", func)
    n, ho, wo, c = _args.nhwc_view(x4, layout).shape
    size = _args.as_pair(size, "size", func, 1)
    stride = _args.as_pair(size if stride is None else stride, "stride", func, 1)
    (top, bottom), (left, right) = _args.parse_padding(padding, func, (ho, wo), size, stride)
    if output_size is None:
        output_size = ((ho - 1) * stride[0] - top - bottom + size[0],
                       (wo - 1) * stride[1] - left - right + size[1])
    h, w = _args.as_pair(output_size, "output_size", func, 1)
    geo = PoolGeometry(n, h, w, c, size, stride, ((top, bottom), (left, right)), ho, wo)
    out, outv = _args.new_tensor((n, h, w, c), layout, dtype, unbatched, func, "the output")
    if out.size:
        xv = _args.nhwc_view(np.ascontiguousarray(x4, dtype), layout)
        iv = _args.nhwc_view(np.ascontiguousarray(indices.reshape(x4.shape), np.int64), layout)
        if not _native.max_unpool2d(xv, iv, outv, geo, get_num_threads()):
            raise ValueError(f"{func}: indices must lie in [0, {h * w}) (an {h}x{w} output "
                             f"plane), got values from {indices.min()} to {indices.max()}")
    return out
