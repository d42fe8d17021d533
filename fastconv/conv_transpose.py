"""conv_transpose2d and its backward: the transposed convolution is the dx
pass of the convolution it transposes, so it runs on conv2d_backward's dx
machinery (no zeros are inserted) and its backward on conv2d (dx) and
conv2d_backward's dw."""
import numpy as np

from . import _args, _native
from ._config import get_num_threads
from .conv import ConvGeometry, _algorithm_code, _weights_rsck, backward_args, forward_args


def _output_padding(output_padding, stride, dilation, func):
    op = _args.as_pair(output_padding, "output_padding", func, 0)
    for axis, (o, s, d) in enumerate(zip(op, stride, dilation)):
        if o >= s and o >= d:
            raise ValueError(f"{func}: output_padding {o} (axis {'HW'[axis]}) must be smaller "
                             f"than the stride {s} or the dilation {d}")
    return op


def _pads(padding, func, size, extent, stride, op):
    """The transposed convolution's pads and output padding.  "same" gives
    out = in * stride (TensorFlow's conv2d_transpose), with the odd pixel of
    padding at the bottom/right."""
    if isinstance(padding, str) and padding.lower() == "same":
        if op != (0, 0):
            raise ValueError(f"{func}: padding='same' sets the output size; output_padding "
                             f"must be 0, got {op}")
        pads, extra = [], []
        for n, k, s in zip(size, extent, stride):
            total = max(k - s, 0)
            pads.append((total // 2, total - total // 2))
            extra.append(n * s - ((n - 1) * s + k - total))
        return tuple(pads), tuple(extra)
    return _args.parse_padding(padding, func, size, extent, stride), op


def _geometry(func, x4, w, layout, stride, padding, output_padding, dilation, groups,
              algorithm="auto"):
    """(the ConvGeometry of the convolution whose dx this is, the rows and
    columns of zeros x needs below/right, the output size)."""
    code = _algorithm_code(algorithm, func)
    if w.ndim != 4:
        raise ValueError(f"{func}: w must be 4-D, got {w.ndim}-D with shape {w.shape}")
    n, h, wd, c = _args.nhwc_view(x4, layout).shape
    r, s, kg, cw = w.shape if layout == "NHWC" else (w.shape[2], w.shape[3], w.shape[1],
                                                    w.shape[0])
    groups = _args.check_int(groups, "groups", func, 1)
    if cw != c:
        raise ValueError(f"{func}: x has {c} channels but w expects {cw} (w.shape={w.shape}, "
                         f"layout={layout!r})")
    if c % groups:
        raise ValueError(f"{func}: groups={groups} does not divide the {c} input channels of x")
    if r == 0 or s == 0 or kg == 0:
        raise ValueError(f"{func}: w has an empty kernel or no outputs (w.shape={w.shape}, "
                         f"layout={layout!r})")
    stride = _args.as_pair(stride, "stride", func, 1)
    dilation = _args.as_pair(dilation, "dilation", func, 1)
    op = _output_padding(output_padding, stride, dilation, func)
    extent = (dilation[0] * (r - 1) + 1, dilation[1] * (s - 1) + 1)
    pads, op = _pads(padding, func, (h, wd), extent, stride, op)
    out, conv_pads, grow = [], [], []
    for n_in, k, st, (p0, p1), o in zip((h, wd), extent, stride, pads, op):
        size = (n_in - 1) * st + k - p0 - p1 + o
        if size <= 0:
            raise ValueError(f"{func}: padding {pads} leaves no output (size {size})")
        # the convolution from the output back to x: its far pad makes it give
        # n_in values, or more when output_padding >= stride (x then grows)
        p1c = max(p1 - o, 0)
        out.append(size)
        conv_pads.append((p0, p1c))
        grow.append((size + p0 + p1c - k) // st + 1 - n_in)
    geo = ConvGeometry(n, out[0], out[1], kg * groups, r, s, c, groups, stride,
                       tuple(conv_pads), dilation, h + grow[0], wd + grow[1], code)
    return geo, tuple(grow)


def _grown(x4, layout, grow):
    """x4 with zero rows/columns below/right (the rare output_padding >= stride)."""
    if grow == (0, 0):
        return x4
    pad = [(0, 0), (0, grow[0]), (0, grow[1]), (0, 0)]
    return np.pad(x4, pad if layout == "NHWC" else [pad[0], pad[3], pad[1], pad[2]])


def conv_transpose2d(x, w, b=None, *, stride=1, padding=0, output_padding=0, dilation=1,
                     groups=1, layout="NHWC", activation=None, algorithm="auto"):
    """The transposed convolution (the gradient of conv2d with respect to its
    input), plus bias b and an optional activation.  NHWC: x (N, H, W, C), w
    (R, S, K // groups, C) as TensorFlow's conv2d_transpose filter -> (N, Ho,
    Wo, K); NCHW: x (N, C, H, W), w (C, K // groups, R, S) as PyTorch's
    ConvTranspose2d -> (N, K, Ho, Wo), with
    Ho = (H - 1) * stride - pad_top - pad_bottom + dilation * (R - 1) + 1 + output_padding.
    padding as for conv2d; "same" gives Ho = H * stride.  output_padding must
    be smaller than the stride or the dilation."""
    func = "conv_transpose2d"
    x, w, b, layout, dtype, act, x4, unbatched = forward_args(func, x, w, b, layout, activation)
    geo, grow = _geometry(func, x4, w, layout, stride, padding, output_padding, dilation,
                          groups, algorithm)
    bias = _args.checked_bias(b, geo.c, dtype, func)
    y, yv = _args.new_tensor((geo.n, geo.h, geo.w, geo.c), layout, dtype, unbatched, func,
                             "the output")
    if y.size == 0:
        return y
    if x4.size == 0:
        yv[...] = 0
    else:
        xv = _args.nhwc_view(_args.prepare(_grown(x4, layout, grow), dtype), layout)
        _native.conv2d_backward(xv, None, _weights_rsck(w, layout, dtype), yv, None, None, geo,
                                get_num_threads())
    if bias is not None or act != _native.FC_ACT_NONE:
        _native.bias_activation(yv, bias, act, 0.01, get_num_threads())
    return y


def conv_transpose2d_backward(dy, x, w, *, stride=1, padding=0, output_padding=0, dilation=1,
                              groups=1, layout="NHWC", need_dx=True, algorithm="auto"):
    """Gradients (dx, dw, db) of conv_transpose2d with respect to x, w and the
    bias, given dy = dL/dy: dx is conv2d of dy with w, dw the weight gradient
    of that convolution, db the sum of dy.  need_dx=False returns None for dx."""
    func = "conv_transpose2d_backward"
    dy, x, w, layout, dtype, x4, unbatched = backward_args(func, dy, x, w, layout)
    geo, grow = _geometry(func, x4, w, layout, stride, padding, output_padding, dilation,
                          groups, algorithm)
    expected = _args.from_nhwc_shape((geo.n, geo.h, geo.w, geo.c), layout)[unbatched:]
    if dy.shape != expected:
        raise ValueError(f"{func}: dy has shape {dy.shape}, but the transposed convolution's "
                         f"output has shape {expected}")
    dy4 = dy[np.newaxis] if unbatched else dy
    dyv = _args.nhwc_view(_args.prepare(dy4, dtype), layout)
    w_rsck = _weights_rsck(w, layout, dtype)
    dw_rsck = np.zeros(w_rsck.shape, dtype)
    db = np.asarray(dyv.sum(axis=(0, 1, 2), dtype=np.float64), dtype)
    dx = None
    n, h, wd, c = _args.nhwc_view(x4, layout).shape
    if need_dx:
        dx, dxv = _args.new_tensor((n, h, wd, c), layout, dtype, unbatched, func, "dx")
        if dx.size:
            full = dxv
            if grow != (0, 0):      # the convolution gives the grown x: crop it
                full = np.empty((n, geo.ho, geo.wo, c), dtype)
            _native.conv2d(dyv, w_rsck, None, full, geo, _native.FC_ACT_NONE, 0.0,
                           get_num_threads())
            if full is not dxv:
                dxv[...] = full[:, :h, :wd]
    if n and dw_rsck.size:
        xv = _args.nhwc_view(_args.prepare(_grown(x4, layout, grow), dtype), layout)
        _native.conv2d_backward(xv, dyv, w_rsck, None, dw_rsck, None, geo, get_num_threads())
    dw = dw_rsck if layout == "NHWC" else np.ascontiguousarray(dw_rsck.transpose(3, 2, 0, 1))
    return dx, dw, db
