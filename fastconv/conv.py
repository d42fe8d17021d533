"""conv2d and conv2d_backward: argument policy around the C kernels."""
from dataclasses import dataclass

import numpy as np

from . import _args, _native
from ._config import get_num_threads


@dataclass
class ConvGeometry:
    """A validated convolution: shapes in NHWC terms plus stride/padding/dilation."""
    n: int
    h: int
    w: int
    c: int
    r: int
    s: int
    k: int
    groups: int
    stride: tuple
    pads: tuple
    dilation: tuple
    ho: int
    wo: int
    algorithm: int = 0

    def as_tuple(self):
        """The tuple the bridge unpacks into fc_conv_desc."""
        return (self.n, self.h, self.w, self.c, self.r, self.s, self.k, self.groups,
                self.stride[0], self.stride[1], self.pads[0][0], self.pads[1][0],
                self.dilation[0], self.dilation[1], self.ho, self.wo, self.algorithm)


# fc_conv_desc.algo codes: "auto" picks per shape and pass; "gemm" is the
# implicit GEMM (any convolution); "direct" the few-output-channel kernels
# (stride 1, no dilation, one group); "winograd" F(2x2, 3x3) (3x3 stride 1,
# NHWC; for the forward pass and dx, dw then by GEMM); "inplace" dw by a GEMM
# reading x and dy in place (stride 1, no dilation, one group; the forward
# pass and dx then by "gemm").
ALGORITHMS = {"auto": 0, "gemm": 1, "direct": 2, "winograd": 3, "inplace": 4}


def _algorithm_code(algorithm, func):
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        raise ValueError(f"{func}: algorithm must be one of {sorted(ALGORITHMS)}, "
                         f"got {algorithm!r}")
    return ALGORITHMS[algorithm]


def _geometry(func, x4, w, layout, stride, padding, dilation, groups, algorithm):
    """Validate x (4-D, in `layout`) against w and the hyper-parameters."""
    code = _algorithm_code(algorithm, func)
    if w.ndim != 4:
        raise ValueError(f"{func}: w must be 4-D, got {w.ndim}-D with shape {w.shape}")
    n, h, wd, c = _args.nhwc_view(x4, layout).shape
    r, s, cg, k = w.shape if layout == "NHWC" else (w.shape[2], w.shape[3], w.shape[1], w.shape[0])
    groups = _args.check_int(groups, "groups", func, 1)
    if c % groups:
        raise ValueError(f"{func}: groups={groups} does not divide the {c} input channels of x")
    if k % groups:
        raise ValueError(f"{func}: groups={groups} does not divide the {k} output channels of w "
                         f"(w.shape={w.shape}, layout={layout!r})")
    if cg * groups != c:
        raise ValueError(f"{func}: x has {c} channels but w expects {cg * groups} "
                         f"(w.shape={w.shape}, layout={layout!r}, groups={groups})")
    if r == 0 or s == 0:
        raise ValueError(f"{func}: w has an empty kernel (w.shape={w.shape}, layout={layout!r})")
    stride, dilation, pads, (ho, wo) = _args.window_geometry(func, (h, wd), (r, s), stride,
                                                              padding, dilation)
    return ConvGeometry(n, h, wd, c, r, s, k, groups, stride, pads, dilation, ho, wo, code)


def _weights_rsck(w, layout, dtype):
    """w as a C-contiguous (R, S, C/groups, K) array."""
    return np.ascontiguousarray(w if layout == "NHWC" else w.transpose(2, 3, 1, 0), dtype=dtype)


def conv2d(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1, layout="NHWC",
           activation=None, out=None, algorithm="auto"):
    """2-D cross-correlation of x with w, plus bias b, with an optional fused
    activation.  NHWC: x (N, H, W, C), w (R, S, C // groups, K) -> (N, Ho, Wo, K);
    NCHW: x (N, C, H, W), w (K, C // groups, R, S) -> (N, K, Ho, Wo).  A 3-D x is
    one image and gives a 3-D result.  algorithm: "auto" (chosen per shape),
    "gemm" (implicit GEMM), "direct" (few output channels, stride 1),
    "winograd" (3x3, stride 1, NHWC) or "inplace" (conv2d_backward's dw by a
    GEMM reading x and dy in place, stride 1); the last three raise ValueError
    where they do not apply."""
    func = "conv2d"
    x = _args.as_array(x, "x", func)
    w = _args.as_array(w, "w", func)
    b = None if b is None else _args.as_array(b, "b", func)
    layout = _args.check_layout(layout, func)
    dtype = _args.result_dtype(func, x=x, w=w)
    if b is not None:
        _args.result_dtype(func, b=b)
    act = _args.check_activation(activation, func)
    x4, unbatched = _args.batched4(x, "x", func)
    geo = _geometry(func, x4, w, layout, stride, padding, dilation, groups, algorithm)
    if b is not None and b.shape != (geo.k,):
        raise ValueError(f"{func}: b must have shape ({geo.k},) to match w, got {b.shape}")

    y, yv = _args.new_tensor((geo.n, geo.ho, geo.wo, geo.k), layout, dtype, unbatched, func,
                             "the output")
    target = y
    if out is not None:
        target, copy_back = _args.check_out(out, y.shape, dtype, func, (x, w, b))
        if target is out:
            yv = _args.nhwc_view(target[np.newaxis] if unbatched else target, layout)
    if y.size:
        xv = _args.nhwc_view(_args.prepare(x4, dtype), layout)
        bias = None if b is None else np.ascontiguousarray(b, dtype=dtype)
        _native.conv2d(xv, _weights_rsck(w, layout, dtype), bias, yv, geo.as_tuple(), act, 0.01,
                       get_num_threads())
    if out is None:
        return y
    if target is not out:
        out[...] = y
    return out


def conv2d_backward(dy, x, w, *, stride=1, padding=0, dilation=1, groups=1, layout="NHWC",
                    need_dx=True, algorithm="auto"):
    """Gradients (dx, dw, db) of conv2d with respect to x, w and the bias, given
    dy = dL/dy.  need_dx=False skips dx (e.g. for a first layer) and returns None
    in its place.  algorithm as for conv2d, for dw and dx."""
    func = "conv2d_backward"
    dy = _args.as_array(dy, "dy", func)
    x = _args.as_array(x, "x", func)
    w = _args.as_array(w, "w", func)
    layout = _args.check_layout(layout, func)
    dtype = _args.result_dtype(func, dy=dy, x=x, w=w)
    x4, unbatched = _args.batched4(x, "x", func)
    geo = _geometry(func, x4, w, layout, stride, padding, dilation, groups, algorithm)
    expected = _args.from_nhwc_shape((geo.n, geo.ho, geo.wo, geo.k), layout)
    if unbatched:
        expected = expected[1:]
    if dy.shape != expected:
        raise ValueError(f"{func}: dy has shape {dy.shape}, but the convolution's output has "
                         f"shape {expected}")
    dy4 = dy[np.newaxis] if unbatched else dy

    dw_rsck = np.empty((geo.r, geo.s, geo.c // geo.groups, geo.k), dtype)
    db = np.empty(geo.k, dtype)
    dx, dxv = None, None
    if need_dx:
        dx, dxv = _args.new_tensor((geo.n, geo.h, geo.w, geo.c), layout, dtype, unbatched, func,
                                   "dx")
    if dw_rsck.size or db.size or (dx is not None and dx.size):
        _native.conv2d_backward(
            _args.nhwc_view(_args.prepare(dy4, dtype), layout),
            _args.nhwc_view(_args.prepare(x4, dtype), layout),
            _weights_rsck(w, layout, dtype), dxv, dw_rsck, db, geo.as_tuple(),
            get_num_threads())
    dw = dw_rsck if layout == "NHWC" else np.ascontiguousarray(dw_rsck.transpose(3, 2, 0, 1))
    return dx, dw, db
