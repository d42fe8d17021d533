"""conv2d and conv2d_backward: argument policy around the C kernels."""
from dataclasses import dataclass

import numpy as np

from . import _args, _native
from .activations import add_activation
from ._config import get_num_threads


@dataclass(frozen=True)
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
    algorithm: int = 0     # the algorithm asked for (ALGORITHMS)

    @property
    def cg(self):
        """Input channels per group."""
        return self.c // self.groups

    @property
    def kg(self):
        """Output channels per group."""
        return self.k // self.groups


# The algorithms one can ask for, named by the C library (fc_conv_algo_name).
# Which one runs each pass, and why, is the plan's decision: conv2d_plan.
ALGORITHMS = {name: code for code, name in enumerate(_native.ALGORITHM_NAMES)}


def _algorithm_code(algorithm, func):
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        raise ValueError(f"{func}: algorithm must be one of {sorted(ALGORITHMS)}, "
                         f"got {_args.shown(algorithm)}")
    return ALGORITHMS[algorithm]


# Validated geometries by their arguments: a layer calls with the same ones every
# time, and validating them again costs about 5 us a call (half of a small call's
# overhead).  The key holds the arguments' reprs, so that True never passes for 1.
_GEOMETRIES = {}
_GEOMETRIES_MAX = 1024


def _geometry(func, x4, w, layout, stride, padding, dilation, groups, algorithm):
    """Validate x (4-D, in `layout`) against w and the hyper-parameters."""
    key = (x4.shape, w.shape, layout, repr(stride), repr(padding), repr(dilation), repr(groups),
           repr(algorithm))
    geo = _GEOMETRIES.get(key)
    if geo is None:
        geo = _checked_geometry(func, x4, w, layout, stride, padding, dilation, groups, algorithm)
        if len(_GEOMETRIES) >= _GEOMETRIES_MAX:
            _GEOMETRIES.clear()
        _GEOMETRIES[key] = geo
    return geo


def _checked_geometry(func, x4, w, layout, stride, padding, dilation, groups, algorithm):
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


def forward_args(func, x, w, b, layout, activation):
    """The checked arguments of a forward convolution: (x, w, b, layout, dtype,
    activation code, x as 4-D, whether x was one image)."""
    x = _args.as_array(x, "x", func)
    w = _args.as_array(w, "w", func)
    b = None if b is None else _args.as_array(b, "b", func)
    layout = _args.check_layout(layout, func)
    dtype = _args.result_dtype(func, x=x, w=w)
    if b is not None:
        _args.result_dtype(func, b=b)
    act = _args.check_activation(activation, func)
    x4, unbatched = _args.batched4(x, "x", func)
    return x, w, b, layout, dtype, act, x4, unbatched


def backward_args(func, dy, x, w, layout):
    """The checked arguments of a convolution's backward pass: (dy, x, w,
    layout, dtype, x as 4-D, whether x was one image)."""
    dy = _args.as_array(dy, "dy", func)
    x = _args.as_array(x, "x", func)
    w = _args.as_array(w, "w", func)
    layout = _args.check_layout(layout, func)
    dtype = _args.result_dtype(func, dy=dy, x=x, w=w)
    x4, unbatched = _args.batched4(x, "x", func)
    return dy, x, w, layout, dtype, x4, unbatched


def conv2d(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1, layout="NHWC",
           activation=None, residual=None, out=None, algorithm="auto"):
    """2-D cross-correlation of x with w, plus bias b, with an optional fused
    activation.  NHWC: x (N, H, W, C), w (R, S, C // groups, K) -> (N, Ho, Wo, K);
    NCHW: x (N, C, H, W), w (K, C // groups, R, S) -> (N, K, Ho, Wo).  A 3-D x is
    one image and gives a 3-D result.  residual (an array of the result's shape)
    is added before the activation, act(conv + b + residual): a residual block's
    sum, added in the kernels' store by the GEMM and Winograd algorithms (groups
    1; it may be `out` itself, added into in place), in a second pass by the
    others.  algorithm: "auto" (chosen per shape and
    pass), "gemm" (implicit GEMM), "direct" (output pixels on the vector lanes),
    "winograd" (F(4x4, 3x3); conv2d_backward's dw by F(3x3, 4x4)) or
    "inplace" (conv2d_backward's dw by a GEMM reading x and dy in place); one
    that does not apply raises ValueError saying why.  conv2d_plan shows what
    runs."""
    func = "conv2d"
    x, w, b, layout, dtype, act, x4, unbatched = forward_args(func, x, w, b, layout, activation)
    geo = _geometry(func, x4, w, layout, stride, padding, dilation, groups, algorithm)
    bias = _args.checked_bias(b, geo.k, dtype, func)

    shape = _args.from_nhwc_shape((geo.n, geo.ho, geo.wo, geo.k), layout)
    shape = shape[1:] if unbatched else shape
    if residual is not None:
        residual = _args.as_array(residual, "residual", func)
        if residual.shape != shape:
            raise ValueError(f"{func}: residual has shape {residual.shape}, but the result has "
                             f"shape {shape}")
        if residual.dtype.kind not in "fiub":
            raise TypeError(f"{func}: residual must be real numbers, got {residual.dtype}")
        if geo.groups > 1 or algorithm not in _ADDS_RESIDUAL:   # the sum in a second pass
            z = conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation,
                       groups=groups, layout=layout, algorithm=algorithm)
            add_activation(z, residual.astype(dtype, copy=False), activation, out=z)
            if out is not None:
                _args.check_out(out, shape, dtype, func)
            return _args.into_out(out, z)
    in_place = residual is not None and residual is out
    inputs = (x, w, b) if residual is None or in_place else (x, w, b, residual)
    y, yv = _args.output_tensor(out, (geo.n, geo.ho, geo.wo, geo.k), layout, dtype, unbatched,
                                func, inputs)
    if residual is not None and y is not residual:
        np.copyto(y, residual, casting="unsafe")
    if y.size:
        xv = _args.nhwc_view(_args.prepare(x4, dtype), layout)
        # NCHW weights go as they are: the kernels read or convert them (w_kcrs)
        _native.conv2d(xv, np.ascontiguousarray(w, dtype=dtype), bias, yv, geo, act, 0.01,
                       get_num_threads(), layout == "NCHW", residual is not None)
    return _args.into_out(out, y)


def conv2d_runner(x_shape, x_dtype, w, b=None, *, stride=1, padding=0, dilation=1, groups=1,
                  activation=None):
    """conv2d's checks and geometry done once, for NHWC batches of one shape and
    dtype (an inference plan's step): returns (the result's shape, run), where
    run(x, y, residual=False) writes act(conv(x, w) + b (+ y's values, with
    residual)) into y.  x must have that shape and w's dtype, y the result's
    shape and dtype, C-contiguous or a channel slice of such an array: run
    checks nothing (conv2d's Python checks cost more than a small layer)."""
    func = "conv2d"
    x4 = np.lib.stride_tricks.as_strided(np.zeros(1, x_dtype), x_shape, [0] * len(x_shape))
    _, w, b, _, dtype, act, x4, _ = forward_args(func, x4, w, b, "NHWC", activation)
    geo = _geometry(func, x4, w, "NHWC", stride, padding, dilation, groups, "auto")
    bias = _args.checked_bias(b, geo.k, dtype, func)
    w = np.ascontiguousarray(w, dtype=dtype)
    # few-pixel and grouped GEMM layers read weights packed once here, not per
    # call (the kernels check that the packing still suits the active ISA's kernel)
    packed, nr = None, 0
    size = _native.conv_pack_weights(w, geo)[0] if geo.n else 0
    if size:
        packed = np.empty(size, dtype)
        nr = _native.conv_pack_weights(w, geo, packed)[1]

    def run(x, y, residual=False):
        if y.size:
            _native.conv2d(x, w, bias, y, geo, act, 0.01, get_num_threads(), False, residual,
                           packed, nr)
        return y
    return (geo.n, geo.ho, geo.wo, geo.k), run


# The algorithms whose kernels add a residual in their store (fc_conv_desc.accumulate).
_ADDS_RESIDUAL = ("auto", "gemm", "winograd")


def conv2d_backward(dy, x, w, *, stride=1, padding=0, dilation=1, groups=1, layout="NHWC",
                    need_dx=True, algorithm="auto"):
    """Gradients (dx, dw, db) of conv2d with respect to x, w and the bias, given
    dy = dL/dy.  need_dx=False skips dx (e.g. for a first layer) and returns None
    in its place.  algorithm as for conv2d, for dw and dx."""
    func = "conv2d_backward"
    dy, x, w, layout, dtype, x4, unbatched = backward_args(func, dy, x, w, layout)
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
    if geo.n == 0:      # an empty batch: zero gradients, whatever algorithm was asked for
        dw_rsck.fill(0)
        db.fill(0)
    elif dw_rsck.size or db.size or (dx is not None and dx.size):
        _native.conv2d_backward(
            _args.nhwc_view(_args.prepare(dy4, dtype), layout),
            _args.nhwc_view(_args.prepare(x4, dtype), layout),
            _weights_rsck(w, layout, dtype), dxv, dw_rsck, db, geo, get_num_threads())
    dw = dw_rsck if layout == "NHWC" else np.ascontiguousarray(dw_rsck.transpose(3, 2, 0, 1))
    return dx, dw, db


def _contiguous_strides(shape_nhwc, layout):
    """Element strides, in (n, h, w, c) order, of a C-contiguous array of
    `layout` holding an NHWC-shaped tensor."""
    n, h, w, c = shape_nhwc
    return (h * w * c, w * c, c, 1) if layout == "NHWC" else (c * h * w, w, 1, h * w)


def conv2d_plan(x_shape, w_shape, *, stride=1, padding=0, dilation=1, groups=1,
                layout="NHWC", dtype="float32", algorithm="auto", residual=False):
    """How conv2d and conv2d_backward would run a convolution of C-contiguous
    arrays of these shapes: for each pass ("forward", "dx", "dw") a dict with
    the algorithm ("gemm", "direct", "winograd" or "inplace"; None where the
    algorithm asked for does not apply), its variant, the micro-kernel and the
    reason.  residual=True: the forward pass of conv2d(..., residual=r) with
    groups 1, which only the GEMM and Winograd run.  The plan depends on the
    shapes, the dtype, the layout and the active kernel set, never on the
    thread count."""
    func = "conv2d_plan"
    layout = _args.check_layout(layout, func)
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{func}: dtype must be float32 or float64, "
                        f"got {_args.shown(dtype)}") from None
    if dt not in (np.float32, np.float64):
        raise TypeError(f"{func}: dtype must be float32 or float64, got {dt}")
    shapes = []
    for name, shape in (("x_shape", x_shape), ("w_shape", w_shape)):
        try:
            shapes.append(tuple(int(v) for v in shape))
        except (TypeError, ValueError):
            hint = " (an array's .shape, not the array)" if np.ndim(shape) > 1 else ""
            raise TypeError(f"{func}: {name} must be a tuple of ints{hint}, "
                            f"got {_args.shown(shape)}") from None
        if any(v < 0 for v in shapes[-1]):
            raise ValueError(f"{func}: {name} has a negative size: {_args.shown(shape)}")
    x4 = np.lib.stride_tricks.as_strided(np.zeros(1, dt), shapes[0], [0] * len(shapes[0]))
    x4, _ = _args.batched4(x4, "x", func)
    w = np.lib.stride_tricks.as_strided(np.zeros(1, dt), shapes[1], [0] * len(shapes[1]))
    geo = _geometry(func, x4, w, layout, stride, padding, dilation, groups, algorithm)
    xs = _contiguous_strides((geo.n, geo.h, geo.w, geo.c), layout)
    ys = _contiguous_strides((geo.n, geo.ho, geo.wo, geo.k), layout)
    return _native.conv_plan(geo, dt == np.float64, xs, ys, xs, bool(residual) and geo.groups == 1)
