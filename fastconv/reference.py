"""Pure-NumPy reference implementations: the test oracle.

Written straight from the course's equations and kept obviously correct rather
than fast.  Every function computes in float64 and returns the dtype fastconv
returns.  This module imports NumPy only (not fastconv's own argument parsing),
so that a bug in shared code cannot hide from the tests; it assumes valid input.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


# ---- helpers ---------------------------------------------------------------
def _pair(v):
    return (int(v), int(v)) if np.ndim(v) == 0 else (int(v[0]), int(v[1]))


def _pads(padding, size, kernel, stride):
    """((top, bottom), (left, right)); 'same' follows TensorFlow."""
    if isinstance(padding, str):
        if padding.lower() == "valid":
            return ((0, 0), (0, 0))
        pads = []
        for n, k, s in zip(size, kernel, stride):
            out = -(-n // s)
            total = max((out - 1) * s + k - n, 0)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)
    if np.ndim(padding) == 2:
        return tuple(_pair(p) for p in padding)
    ph, pw = _pair(padding)
    return ((ph, ph), (pw, pw))


def _dtype(*arrays):
    kinds = [np.float64 if np.asarray(a).dtype.kind in "biu" else np.asarray(a).dtype
             for a in arrays if a is not None]
    return np.result_type(*kinds)


def _nhwc(x, layout):
    """(x as float64 NHWC 4-D, whether it was one image)."""
    x = np.asarray(x, dtype=np.float64)
    single = x.ndim == 3
    if single:
        x = x[None]
    return (x if layout == "NHWC" else x.transpose(0, 2, 3, 1)), single


def _from_nhwc(y, layout, single, dtype):
    y = y if layout == "NHWC" else y.transpose(0, 3, 1, 2)
    return np.ascontiguousarray((y[0] if single else y).astype(dtype))


def _weights(w, layout):
    w = np.asarray(w, dtype=np.float64)
    return w if layout == "NHWC" else w.transpose(2, 3, 1, 0)   # (R, S, C/g, K)


def _conv_geometry(x, w, stride, padding, dilation):
    _, h, wd, _ = x.shape
    r, s = w.shape[:2]
    sh, sw = _pair(stride)
    dh, dw = _pair(dilation)
    extent = (dh * (r - 1) + 1, dw * (s - 1) + 1)
    pads = _pads(padding, (h, wd), extent, (sh, sw))
    ho = (h + sum(pads[0]) - extent[0]) // sh + 1
    wo = (wd + sum(pads[1]) - extent[1]) // sw + 1
    return (sh, sw), (dh, dw), pads, ho, wo


def _window_slices(r, s, stride, dilation, ho, wo):
    """For kernel tap (r, s): the slices of the padded input it sees."""
    h0, w0 = r * dilation[0], s * dilation[1]
    return (slice(h0, h0 + stride[0] * (ho - 1) + 1, stride[0]),
            slice(w0, w0 + stride[1] * (wo - 1) + 1, stride[1]))


def im2col(x, kernel, stride, pads, dilation, ho, wo):
    """(N, Ho, Wo, R, S, C) patches of the zero-padded NHWC x."""
    xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    r, s = kernel
    cols = np.empty((x.shape[0], ho, wo, r, s, x.shape[3]))
    for i in range(r):
        for j in range(s):
            hs, ws = _window_slices(i, j, stride, dilation, ho, wo)
            cols[:, :, :, i, j, :] = xp[:, hs, ws, :]
    return cols


def col2im(cols, x_shape, stride, pads, dilation):
    """Adjoint of im2col: sums the patches back into an NHWC image."""
    n, h, w, c = x_shape
    _, ho, wo, r, s, _ = cols.shape
    xp = np.zeros((n, h + sum(pads[0]), w + sum(pads[1]), c))
    for i in range(r):
        for j in range(s):
            hs, ws = _window_slices(i, j, stride, dilation, ho, wo)
            xp[:, hs, ws, :] += cols[:, :, :, i, j, :]
    return xp[:, pads[0][0]:pads[0][0] + h, pads[1][0]:pads[1][0] + w, :]


_ACTIVATIONS = {
    None: lambda z: z,
    "relu": lambda z: np.where(z < 0, 0.0, z),
    "leaky_relu": lambda z: np.where(z < 0, 0.01 * z, z),
    "sigmoid": lambda z: _sigmoid(z),
    "tanh": np.tanh,
}


# ---- convolution -------------------------------------------------------------
def conv2d(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1, layout="NHWC",
           activation=None, residual=None, out=None):
    dtype = _dtype(x, w)
    x, single = _nhwc(x, layout)
    w = _weights(w, layout)
    stride, dilation, pads, ho, wo = _conv_geometry(x, w, stride, padding, dilation)
    r, s, cg, k = w.shape
    kg = k // groups
    cols = im2col(x, (r, s), stride, pads, dilation, ho, wo)
    y = np.empty((x.shape[0], ho, wo, k))
    for g in range(groups):
        patch = cols[..., g * cg:(g + 1) * cg].reshape(x.shape[0], ho, wo, r * s * cg)
        y[..., g * kg:(g + 1) * kg] = patch @ w[..., g * kg:(g + 1) * kg].reshape(-1, kg)
    if b is not None:
        y = y + np.asarray(b, dtype=np.float64)
    if residual is not None:
        y = y + _nhwc(np.asarray(residual, dtype=np.float64), layout)[0]
    return _into(out, _from_nhwc(_ACTIVATIONS[activation](y), layout, single, dtype))


def _into(out, y):
    """y, or y written into out (the functions' out=)."""
    if out is None:
        return y
    out[...] = y
    return out


def conv2d_backward(dy, x, w, *, stride=1, padding=0, dilation=1, groups=1, layout="NHWC",
                    need_dx=True):
    dtype = _dtype(dy, x, w)
    x, single = _nhwc(x, layout)
    dy, _ = _nhwc(dy, layout)
    w_nchw_layout = layout
    w = _weights(w, layout)
    stride, dilation, pads, ho, wo = _conv_geometry(x, w, stride, padding, dilation)
    r, s, cg, k = w.shape
    kg = k // groups
    cols = im2col(x, (r, s), stride, pads, dilation, ho, wo)
    dcols = np.empty_like(cols)
    dw = np.empty_like(w)
    for g in range(groups):
        dy_g = dy[..., g * kg:(g + 1) * kg].reshape(-1, kg)
        cols_g = cols[..., g * cg:(g + 1) * cg].reshape(dy_g.shape[0], r * s * cg)
        w_g = w[..., g * kg:(g + 1) * kg].reshape(r * s * cg, kg)
        dw[..., g * kg:(g + 1) * kg] = (cols_g.T @ dy_g).reshape(r, s, cg, kg)
        dcols[..., g * cg:(g + 1) * cg] = (dy_g @ w_g.T).reshape(dy.shape[:3] + (r, s, cg))
    db = dy.sum(axis=(0, 1, 2)).astype(dtype)
    dx = None
    if need_dx:
        dx = _from_nhwc(col2im(dcols, x.shape, stride, pads, dilation), layout, single, dtype)
    if w_nchw_layout == "NCHW":
        dw = dw.transpose(3, 2, 0, 1)
    return dx, np.ascontiguousarray(dw.astype(dtype)), db


def _transpose_geometry(x, w, stride, padding, output_padding, dilation):
    """(stride, dilation, pads, output padding, (Ho, Wo)); w is (R, S, K/g, C)."""
    sh, sw = _pair(stride)
    dh, dw = _pair(dilation)
    r, s = w.shape[:2]
    extent = (dh * (r - 1) + 1, dw * (s - 1) + 1)
    op = _pair(output_padding)
    if isinstance(padding, str) and padding.lower() == "same":   # out = in * stride
        pads = tuple((max(k - st, 0) // 2, max(k - st, 0) - max(k - st, 0) // 2)
                     for k, st in zip(extent, (sh, sw)))
        op = tuple(st - k + sum(p) for k, st, p in zip(extent, (sh, sw), pads))
    else:
        pads = _pads(padding, x.shape[1:3], extent, (sh, sw))
    out = tuple((n - 1) * st + k - sum(p) + o
                for n, st, k, p, o in zip(x.shape[1:3], (sh, sw), extent, pads, op))
    return (sh, sw), (dh, dw), pads, out


def _transpose_weights(w, layout):
    """(R, S, K/g, C) from either layout's weights."""
    w = np.asarray(w, dtype=np.float64)
    return w if layout == "NHWC" else w.transpose(2, 3, 1, 0)


def _transpose_setup(x, w, stride, padding, output_padding, dilation, groups):
    """The geometry, and zeros for the output before padding is cropped (room
    for every tap of every input pixel)."""
    stride, dilation, pads, (ho, wo) = _transpose_geometry(x, w, stride, padding,
                                                           output_padding, dilation)
    r, s, kg, _ = w.shape
    full = np.zeros((x.shape[0], pads[0][0] + ho + stride[0] + r * dilation[0],
                     pads[1][0] + wo + stride[1] + s * dilation[1], kg * groups))
    return stride, dilation, pads, (ho, wo), full


def _full_output_slices(i, j, stride, dilation, h, w):
    """The rows and columns of the unpadded, uncropped output that input pixel
    rows/columns 0..h-1, 0..w-1 reach through tap (i, j)."""
    return (slice(i * dilation[0], i * dilation[0] + stride[0] * (h - 1) + 1, stride[0]),
            slice(j * dilation[1], j * dilation[1] + stride[1] * (w - 1) + 1, stride[1]))


def conv_transpose2d(x, w, b=None, *, stride=1, padding=0, output_padding=0, dilation=1,
                     groups=1, layout="NHWC", activation=None):
    """Every input pixel adds x[n, h, w, :] @ W[i, j]^T to output pixel
    (h * stride - pad_top + i * dilation, w * stride - pad_left + j * dilation)."""
    dtype = _dtype(x, w)
    x, single = _nhwc(x, layout)
    w = _transpose_weights(w, layout)
    stride, dilation, pads, (ho, wo), full = _transpose_setup(x, w, stride, padding,
                                                              output_padding, dilation, groups)
    r, s, kg, c = w.shape
    cg = c // groups
    n, h, wd, _ = x.shape
    for g in range(groups):
        for i in range(r):
            for j in range(s):
                hs, ws = _full_output_slices(i, j, stride, dilation, h, wd)
                full[:, hs, ws, g * kg:(g + 1) * kg] += \
                    x[..., g * cg:(g + 1) * cg] @ w[i, j, :, g * cg:(g + 1) * cg].T
    y = full[:, pads[0][0]:pads[0][0] + ho, pads[1][0]:pads[1][0] + wo]
    if b is not None:
        y = y + np.asarray(b, dtype=np.float64)
    return _from_nhwc(_ACTIVATIONS[activation](y), layout, single, dtype)


def conv_transpose2d_backward(dy, x, w, *, stride=1, padding=0, output_padding=0, dilation=1,
                              groups=1, layout="NHWC", need_dx=True):
    dtype = _dtype(dy, x, w)
    x, single = _nhwc(x, layout)
    dy, _ = _nhwc(dy, layout)
    wl = _transpose_weights(w, layout)
    stride, dilation, pads, (ho, wo), full = _transpose_setup(x, wl, stride, padding,
                                                              output_padding, dilation, groups)
    r, s, kg, c = wl.shape
    cg = c // groups
    n, h, wd, _ = x.shape
    full[:, pads[0][0]:pads[0][0] + ho, pads[1][0]:pads[1][0] + wo] = dy
    dx = np.zeros_like(x)
    dw = np.zeros_like(wl)
    for g in range(groups):
        for i in range(r):
            for j in range(s):
                hs, ws = _full_output_slices(i, j, stride, dilation, h, wd)
                tap = full[:, hs, ws, g * kg:(g + 1) * kg]
                dx[..., g * cg:(g + 1) * cg] += tap @ wl[i, j, :, g * cg:(g + 1) * cg]
                dw[i, j, :, g * cg:(g + 1) * cg] = \
                    tap.reshape(-1, kg).T @ x[..., g * cg:(g + 1) * cg].reshape(-1, cg)
    if layout == "NCHW":
        dw = dw.transpose(3, 2, 0, 1)
    return (_from_nhwc(dx, layout, single, dtype) if need_dx else None,
            np.ascontiguousarray(dw.astype(dtype)), dy.sum(axis=(0, 1, 2)).astype(dtype))


# ---- pooling -----------------------------------------------------------------
def _pool_geometry(hw, size, stride, padding, dilation, ceil_mode):
    """(window, stride, dilation, pads, (ho, wo), overhang): overhang is how far
    ceil mode's last windows reach past the padded input, per axis."""
    r, s = _pair(size)
    stride = (r, s) if stride is None else _pair(stride)
    dilation = _pair(dilation)
    extent = (dilation[0] * (r - 1) + 1, dilation[1] * (s - 1) + 1)
    pads = _pads(padding, hw, extent, stride)
    out, overhang = [], []
    for n, k, st, (p0, p1) in zip(hw, extent, stride, pads):
        span = n + p0 + p1 - k
        o = (-(-span // st) if ceil_mode else span // st) + 1
        if ceil_mode and (o - 1) * st >= n + p0:      # would start in the padding
            o -= 1
        out.append(o)
        overhang.append(max((o - 1) * st + k - (n + p0 + p1), 0))
    return (r, s), stride, dilation, pads, tuple(out), tuple(overhang)


def _pool_windows(x, geometry, fill, overhang_fill=None):
    """(N, Ho, Wo, C, R, S): the taps of every window of x padded with `fill`
    (and past the padding, in ceil mode, with overhang_fill)."""
    (r, s), stride, dilation, pads, (ho, wo), (oh, ow) = geometry
    xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=fill)
    xp = np.pad(xp, ((0, 0), (0, oh), (0, ow), (0, 0)),
                constant_values=fill if overhang_fill is None else overhang_fill)
    extent = (dilation[0] * (r - 1) + 1, dilation[1] * (s - 1) + 1)
    win = sliding_window_view(xp, extent, axis=(1, 2))[:, ::stride[0], ::stride[1]]
    return win[:, :ho, :wo, :, ::dilation[0], ::dilation[1]]


def _avg_divisor(x_shape, geometry, count_include_pad):
    """(1, Ho, Wo, 1): the pixels each window averages."""
    ones = np.ones((1,) + tuple(x_shape[1:3]) + (1,))
    count = _pool_windows(ones, geometry, 1.0 if count_include_pad else 0.0, 0.0)
    return count.sum(axis=(-2, -1))


def _padded_zeros(x, geometry):
    """Zeros the size of x padded, overhang included, to scatter gradients into."""
    _, _, _, pads, _, (oh, ow) = geometry
    return np.zeros((x.shape[0], x.shape[1] + sum(pads[0]) + oh, x.shape[2] + sum(pads[1]) + ow,
                     x.shape[3]))


def _crop(xp, x_shape, geometry):
    pads = geometry[3]
    return xp[:, pads[0][0]:pads[0][0] + x_shape[1], pads[1][0]:pads[1][0] + x_shape[2]]


def _window_argmax(x, geometry):
    """Per window and channel the padded-input row and column of its first
    maximum (np.argmax: the first NaN, else the first maximum, row-major)."""
    (r, s), stride, dilation, *_ = geometry
    win = _pool_windows(x, geometry, -np.inf)
    n, ho, wo, c = win.shape[:4]
    arg = win.reshape(n, ho, wo, c, r * s).argmax(axis=-1)
    _, ii, jj, _ = np.indices((n, ho, wo, c))
    return ii * stride[0] + (arg // s) * dilation[0], jj * stride[1] + (arg % s) * dilation[1]


def max_pool2d(x, size, stride=None, padding=0, *, dilation=1, ceil_mode=False,
               return_indices=False, layout="NHWC", out=None):
    dtype = _dtype(x)
    x, single = _nhwc(x, layout)
    geometry = _pool_geometry(x.shape[1:3], size, stride, padding, dilation, ceil_mode)
    y = _into(out, _from_nhwc(_pool_windows(x, geometry, -np.inf).max(axis=(-2, -1)), layout,
                              single, dtype))
    if not return_indices:
        return y
    hp, wp = _window_argmax(x, geometry)
    pads = geometry[3]
    index = (hp - pads[0][0]) * x.shape[2] + (wp - pads[1][0])
    return y, _from_nhwc(index, layout, single, np.int64)


def avg_pool2d(x, size, stride=None, padding=0, *, dilation=1, ceil_mode=False,
               count_include_pad=False, layout="NHWC", out=None):
    dtype = _dtype(x)
    x, single = _nhwc(x, layout)
    geometry = _pool_geometry(x.shape[1:3], size, stride, padding, dilation, ceil_mode)
    total = _pool_windows(x, geometry, 0.0).sum(axis=(-2, -1))
    y = total / _avg_divisor(x.shape, geometry, count_include_pad)
    return _into(out, _from_nhwc(y, layout, single, dtype))


def max_pool2d_backward(dy, x, size, stride=None, padding=0, *, dilation=1, ceil_mode=False,
                        layout="NHWC"):
    """Each dy goes to the first maximum of its window (np.argmax: first NaN,
    else first maximum, in row-major order)."""
    dtype = _dtype(dy, x)
    x, single = _nhwc(x, layout)
    dy, _ = _nhwc(dy, layout)
    geometry = _pool_geometry(x.shape[1:3], size, stride, padding, dilation, ceil_mode)
    hp, wp = _window_argmax(x, geometry)
    nn, _, _, cc = np.indices(hp.shape)
    dxp = _padded_zeros(x, geometry)
    np.add.at(dxp, (nn, hp, wp, cc), dy)
    return _from_nhwc(_crop(dxp, x.shape, geometry), layout, single, dtype)


def avg_pool2d_backward(dy, x, size, stride=None, padding=0, *, dilation=1, ceil_mode=False,
                        count_include_pad=False, layout="NHWC"):
    dtype = _dtype(dy, x)
    x, single = _nhwc(x, layout)
    dy, _ = _nhwc(dy, layout)
    geometry = _pool_geometry(x.shape[1:3], size, stride, padding, dilation, ceil_mode)
    (r, s), stride, dilation, _, (ho, wo), _ = geometry
    share = dy / _avg_divisor(x.shape, geometry, count_include_pad)
    dxp = _padded_zeros(x, geometry)
    for i in range(r):
        for j in range(s):
            hs, ws = _window_slices(i, j, stride, dilation, ho, wo)
            dxp[:, hs, ws, :] += share
    return _from_nhwc(_crop(dxp, x.shape, geometry), layout, single, dtype)


def global_max_pool2d(x, *, layout="NHWC"):
    dtype = _dtype(x)
    x, single = _nhwc(x, layout)
    y = x.max(axis=(1, 2)).astype(dtype)
    return y[0] if single else y


def global_max_pool2d_backward(dy, x, *, layout="NHWC"):
    dtype = _dtype(dy, x)
    x, single = _nhwc(x, layout)
    dy = np.asarray(dy, np.float64).reshape(x.shape[0], x.shape[3])
    n, h, w, c = x.shape
    arg = x.reshape(n, h * w, c).argmax(axis=1)
    dx = np.zeros((n, h * w, c))
    for i in range(n):
        dx[i, arg[i], np.arange(c)] = dy[i]
    return _from_nhwc(dx.reshape(x.shape), layout, single, dtype)


def max_unpool2d(x, indices, size, stride=None, padding=0, *, output_size=None, layout="NHWC"):
    dtype = _dtype(x)
    x, single = _nhwc(x, layout)
    index, _ = _nhwc(indices, layout)
    index = index.astype(np.int64)
    n, ho, wo, c = x.shape
    r, s = _pair(size)
    stride = (r, s) if stride is None else _pair(stride)
    pads = _pads(padding, (ho, wo), (r, s), stride)
    if output_size is None:
        output_size = ((ho - 1) * stride[0] - sum(pads[0]) + r,
                       (wo - 1) * stride[1] - sum(pads[1]) + s)
    h, w = _pair(output_size)
    out = np.zeros((n, h * w, c))
    for i in range(n):
        for k in range(c):
            out[i, index[i, :, :, k].reshape(-1), k] = x[i, :, :, k].reshape(-1)
    return _from_nhwc(out.reshape(n, h, w, c), layout, single, dtype)


def global_avg_pool2d(x, *, layout="NHWC"):
    dtype = _dtype(x)
    x, single = _nhwc(x, layout)
    y = x.mean(axis=(1, 2)).astype(dtype)
    return y[0] if single else y


# ---- matrix multiply -----------------------------------------------------------
def matmul(a, b):
    dtype = _dtype(a, b)
    return np.matmul(np.asarray(a, np.float64), np.asarray(b, np.float64)).astype(dtype)


def gemm(a, b, c=None, *, alpha=1.0, beta=0.0, trans_a=False, trans_b=False):
    dtype = _dtype(a, b, c)
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    y = alpha * ((a.T if trans_a else a) @ (b.T if trans_b else b))
    if c is not None and beta != 0:
        y = y + beta * np.asarray(c, np.float64)
    return np.ascontiguousarray(y.astype(dtype))


# ---- activations -----------------------------------------------------------------
def _sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _unary(fn, x):
    dtype = _dtype(x)
    return np.asarray(fn(np.asarray(x, np.float64))).astype(dtype)


def relu(x):
    return _unary(_ACTIVATIONS["relu"], x)


def leaky_relu(x, alpha=0.01):
    return _unary(lambda z: np.where(z < 0, alpha * z, z), x)


def sigmoid(x):
    return _unary(_sigmoid, x)


def tanh(x):
    return _unary(np.tanh, x)


# ---- optimizer updates ---------------------------------------------------------
def sgd_update(w, g, v, learning_rate, momentum):
    """(w, v) after one SGD step with PyTorch's momentum (v None: no momentum)."""
    dtype = _dtype(w)
    g = np.asarray(g, np.float64)
    v = g if v is None else momentum * np.asarray(v, np.float64) + g
    return (np.asarray(w, np.float64) - learning_rate * v).astype(dtype), v.astype(dtype)


def adam_update(w, g, m, v, t, learning_rate, beta_1, beta_2, epsilon):
    """(w, m, v) after Adam's step t (from 1), with bias correction."""
    dtype = _dtype(w)
    g = np.asarray(g, np.float64)
    m = beta_1 * np.asarray(m, np.float64) + (1 - beta_1) * g
    v = beta_2 * np.asarray(v, np.float64) + (1 - beta_2) * g * g
    step = learning_rate * (m / (1 - beta_1 ** t)) / (np.sqrt(v / (1 - beta_2 ** t)) + epsilon)
    return (np.asarray(w, np.float64) - step).astype(dtype), m.astype(dtype), v.astype(dtype)


def add_activation(a, b, activation=None):
    dtype = _dtype(a, b)
    z = np.asarray(a, np.float64) + np.asarray(b, np.float64)
    return np.asarray(_ACTIVATIONS[activation](z)).astype(dtype)


def relu_backward(dy, x):
    return np.where(np.asarray(x) > 0, np.asarray(dy, np.float64), 0.0).astype(_dtype(dy, x))


def leaky_relu_backward(dy, x, alpha=0.01):
    dy64 = np.asarray(dy, np.float64)
    return np.where(np.asarray(x) > 0, dy64, alpha * dy64).astype(_dtype(dy, x))


def sigmoid_backward(dy, y):
    y64 = np.asarray(y, np.float64)
    return (np.asarray(dy, np.float64) * y64 * (1 - y64)).astype(_dtype(dy, y))


def tanh_backward(dy, y):
    y64 = np.asarray(y, np.float64)
    return (np.asarray(dy, np.float64) * (1 - y64 ** 2)).astype(_dtype(dy, y))


def softmax(x, axis=-1):
    z = np.asarray(x, np.float64)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype(_dtype(x))


def softmax_backward(dy, y, axis=-1):
    dy64 = np.asarray(dy, np.float64)
    y64 = np.asarray(y, np.float64)
    return (y64 * (dy64 - (dy64 * y64).sum(axis=axis, keepdims=True))).astype(_dtype(dy, y))


# ---- fully connected layer -------------------------------------------------------
# d act / d z from the forward output y
_ACTIVATION_SLOPES = {
    "relu": lambda y: (y > 0).astype(np.float64),
    "leaky_relu": lambda y: np.where(y > 0, 1.0, 0.01),
    "sigmoid": lambda y: y * (1 - y),
    "tanh": lambda y: 1 - y ** 2,
}


def linear(x, w, b=None, *, activation=None):
    z = np.asarray(x, np.float64) @ np.asarray(w, np.float64)
    if b is not None:
        z = z + np.asarray(b, np.float64)
    return np.ascontiguousarray(_ACTIVATIONS[activation](z).astype(_dtype(x, w)))


def linear_backward(dy, x, w, y=None, *, activation=None):
    dz = np.asarray(dy, np.float64)
    if activation is not None:
        dz = dz * _ACTIVATION_SLOPES[activation](np.asarray(y, np.float64))
    dtype = _dtype(dy, x, w)
    return ((dz @ np.asarray(w, np.float64).T).astype(dtype),
            (np.asarray(x, np.float64).T @ dz).astype(dtype), dz.sum(axis=0).astype(dtype))


# ---- batch normalisation -----------------------------------------------------------
def _channels_last(x, layout):
    x = np.asarray(x, np.float64)
    return x if layout == "NHWC" else np.moveaxis(x, 1, -1)


def _channels_back(y, layout, dtype):
    y = y if layout == "NHWC" else np.moveaxis(y, -1, 1)
    return np.ascontiguousarray(y.astype(dtype))


def batch_norm(x, mean, var, gamma, beta, *, eps=1e-5, layout="NHWC"):
    xl = _channels_last(x, layout)
    xhat = (xl - np.asarray(mean, np.float64)) / np.sqrt(np.asarray(var, np.float64) + eps)
    y = np.asarray(gamma, np.float64) * xhat + np.asarray(beta, np.float64)
    return _channels_back(y, layout, _dtype(x, gamma, beta))


def batch_norm_train(x, gamma, beta, *, eps=1e-5, layout="NHWC"):
    """(y, mean, biased variance) over every axis but the channels."""
    xl = _channels_last(x, layout)
    axes = tuple(range(xl.ndim - 1))
    mean = xl.mean(axis=axes)
    var = ((xl - mean) ** 2).mean(axis=axes)
    return batch_norm(x, mean, var, gamma, beta, eps=eps, layout=layout), mean, var


def batch_norm_backward(dy, x, mean, var, gamma, *, eps=1e-5, layout="NHWC", training=True):
    """With training, mean and var are x's batch statistics and dx includes
    their gradient: dx = gamma / (m sigma) * (m dy - sum(dy) - xhat sum(dy xhat))."""
    xl, g = _channels_last(x, layout), _channels_last(dy, layout)
    axes = tuple(range(xl.ndim - 1))
    inv_std = 1 / np.sqrt(np.asarray(var, np.float64) + eps)
    xhat = (xl - np.asarray(mean, np.float64)) * inv_std
    dgamma, dbeta = (g * xhat).sum(axis=axes), g.sum(axis=axes)
    scale = np.asarray(gamma, np.float64) * inv_std
    if training:
        m = xl.size // max(xl.shape[-1], 1)
        dx = scale / m * (m * g - dbeta - xhat * dgamma)
    else:
        dx = g * scale
    dtype = _dtype(dy, x, gamma)
    return _channels_back(dx, layout, dtype), dgamma.astype(dtype), dbeta.astype(dtype)


# ---- detection -----------------------------------------------------------------
def iou(boxes_a, boxes_b, format="xyxy"):
    """IoU of every pair, one pair at a time."""
    def xyxy(b):
        if format == "xyxy":
            return b
        bx, by, bh, bw = b
        return (bx - bw / 2, by - bh / 2, bx + bw / 2, by + bh / 2)

    out = np.zeros((len(boxes_a), len(boxes_b)))
    for i, a in enumerate(boxes_a):
        for j, b in enumerate(boxes_b):
            ax1, ay1, ax2, ay2 = xyxy(a)
            bx1, by1, bx2, by2 = xyxy(b)
            inter = max(0.0, min(ax2, bx2) - max(ax1, bx1)) * max(0.0, min(ay2, by2) - max(ay1, by1))
            union = max(0.0, ax2 - ax1) * max(0.0, ay2 - ay1) + \
                max(0.0, bx2 - bx1) * max(0.0, by2 - by1) - inter
            out[i, j] = inter / union if union > 0 else 0.0
    return out


def non_max_suppression(boxes, scores, iou_threshold=0.5, score_threshold=0.0, classes=None, *,
                        max_output=None):
    """Greedy NMS written as the course describes it: take the highest-scoring
    remaining box, discard the remaining boxes (of its class) that overlap it by
    more than iou_threshold, repeat (until max_output boxes are kept)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    remaining = sorted((i for i in range(len(boxes)) if scores[i] >= score_threshold),
                       key=lambda i: (-scores[i], i))
    keep = []
    while remaining and (max_output is None or len(keep) < max_output):
        best = remaining.pop(0)
        keep.append(best)
        remaining = [j for j in remaining
                     if (classes is not None and classes[j] != classes[best])
                     or iou(boxes[best:best + 1], boxes[j:j + 1])[0, 0] <= iou_threshold]
    return np.array(keep, dtype=np.int64)


def batched_non_max_suppression(boxes, scores, batch_index, iou_threshold=0.5,
                                score_threshold=0.0, classes=None):
    """NMS image by image (and class by class), merged in descending score order."""
    scores = np.asarray(scores, dtype=np.float64)
    batch_index = np.asarray(batch_index)
    keep = []
    for image in np.unique(batch_index):
        members = np.flatnonzero(batch_index == image)
        sub_classes = None if classes is None else np.asarray(classes)[members]
        kept = non_max_suppression(np.asarray(boxes)[members], scores[members], iou_threshold,
                                   score_threshold, sub_classes)
        keep.extend(members[kept])
    return np.array(sorted(keep, key=lambda i: (-scores[i], i)), dtype=np.int64)
