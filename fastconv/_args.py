"""Argument normalisation and validation shared by the public functions.

Every check raises before any work starts, with a message that names the
function, the argument, what was expected and what was given.
"""
import math
import numbers
import operator

import numpy as np

from . import _native

LAYOUTS = ("NHWC", "NCHW")
# Arrays larger than this many bytes cannot be addressed by the kernels.
MAX_BYTES = 2**62


def shown(value):
    """A bad argument as an error message shows it: an array by its type,
    shape and dtype (its repr can run to pages), anything else (NumPy scalars
    too) by a repr cut to 80 characters."""
    if getattr(value, "ndim", 0) and hasattr(value, "dtype"):
        return f"{type(value).__name__} of shape {tuple(value.shape)} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def as_array(value, name, func):
    """np.asarray(value), as a TypeError naming the argument when that fails.
    A misaligned array (one made from a buffer at an odd offset, as Dask's
    deserialisation can give) is copied: the kernels read elements in place,
    and every later copy (ascontiguousarray, astype) would keep it misaligned."""
    if not isinstance(value, np.ndarray):
        try:
            value = np.asarray(value)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"{func}: {name} cannot be converted to an array ({exc})") from None
    return value if value.flags.aligned else value.copy()


_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def _compute_dtype(arr, name, func):
    """The dtype an array is computed in: float32/float64 as they are (in the
    machine's byte order: prepare swaps a byte-swapped array's bytes, as it
    does integers'), integers and bools as float64; anything else is a
    TypeError."""
    dt = arr.dtype
    if dt is _F32 or dt is _F64:   # the common case, fast
        return dt
    if dt.kind == "f" and dt.itemsize in (4, 8):   # any other float32/float64 dtype object
        return _F32 if dt.itemsize == 4 else _F64
    if dt.kind in "biu":
        return np.dtype(np.float64)
    raise TypeError(
        f"{func}: {name} has dtype {dt}, but only float32, float64, integer and bool "
        f"arrays are supported"
    )


def result_dtype(func, **arrays):
    """np.result_type of the arrays after integer/bool -> float64 promotion."""
    dtypes = [_compute_dtype(a, n, func) for n, a in arrays.items() if a is not None]
    for d in dtypes:
        if d is not dtypes[0]:
            return np.result_type(*dtypes)
    return dtypes[0]   # one dtype: half a microsecond less than result_type


def prepare(arr, dtype):
    """arr in dtype, copied only when the kernels cannot address it directly
    (other dtype, byte-swapped, misaligned or strides not a multiple of the item)."""
    if arr.dtype is dtype and arr.flags.c_contiguous and arr.flags.aligned:
        return arr   # the common case, without the checks below (strides are whole items)
    arr = arr.astype(dtype, copy=False)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if not arr.flags.aligned or any(s % arr.itemsize for s in arr.strides):
        arr = np.array(arr, copy=True)
    return arr


def check_layout(layout, func):
    if not isinstance(layout, str) or layout.upper() not in LAYOUTS:
        raise ValueError(f"{func}: layout must be 'NHWC' or 'NCHW', got {shown(layout)}")
    return layout.upper()


def check_int(value, name, func, minimum):
    """A plain integer >= minimum (bools and floats are rejected)."""
    if type(value) is int:   # the common case, without the ABC check (a microsecond a call)
        if value < minimum:
            raise ValueError(f"{func}: {name} must be >= {minimum}, got {value}")
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{func}: {name} must be an integer, got {shown(value)}")
    value = operator.index(value)
    if value < minimum:
        raise ValueError(f"{func}: {name} must be >= {minimum}, got {value}")
    return value


def check_flag(value, name, func):
    """A bool (NumPy's too) as a Python bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{func}: {name} must be True or False, got {shown(value)}")
    return bool(value)


def check_real(value, name, func):
    """A real scalar as a float (bools and complex numbers are rejected)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{func}: {name} must be a real number, got {shown(value)}")
    return float(value)


def as_pair(value, name, func, minimum):
    """An int or a pair of ints, each >= minimum, as a tuple (h, w)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{func}: {name} must be an int or a pair (h, w), got {shown(value)}")
        pair = tuple(check_int(v, name, func, -(2**63)) for v in value)
    else:
        v = check_int(value, name, func, -(2**63))
        pair = (v, v)
    if min(pair) < minimum:
        raise ValueError(f"{func}: {name} must be >= {minimum}, got {shown(value)}")
    return pair


def parse_padding(padding, func, size, kernel, stride):
    """((top, bottom), (left, right)) from an int, (ph, pw), ((t, b), (l, r)),
    'valid' or 'same' (TensorFlow's rule: out = ceil(in / stride), the odd pixel
    at the bottom/right).  size, kernel (dilated extent) and stride are (h, w)."""
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return ((0, 0), (0, 0))
        if mode == "same":
            pads = []
            for n, k, s in zip(size, kernel, stride):
                total = max((-(-n // s) - 1) * s + k - n, 0)
                pads.append((total // 2, total - total // 2))
            return tuple(pads)
        raise ValueError(f"{func}: padding must be 'same', 'valid' or integers, "
                         f"got {shown(padding)}")
    if isinstance(padding, (tuple, list)) and len(padding) == 2 and all(
        isinstance(p, (tuple, list)) for p in padding
    ):
        pads = tuple(as_pair(tuple(p), "padding", func, -(2**63)) for p in padding)
    else:
        ph, pw = as_pair(padding, "padding", func, -(2**63))
        pads = ((ph, ph), (pw, pw))
    if min(min(p) for p in pads) < 0:
        raise ValueError(f"{func}: padding must be non-negative, got {shown(padding)}")
    return pads


def _pooled_size(padded, extent, stride, start_limit, ceil_mode):
    """Windows along one axis: floor mode, or ceil mode without the last window
    when it would start in the bottom/right padding (start_limit = size + top pad)."""
    out = (padded - extent) // stride + 1
    if ceil_mode:
        out = -(-(padded - extent) // stride) + 1
        if (out - 1) * stride >= start_limit:
            out -= 1
    return out


def _check_windows_hold_pixels(func, size, kernel, stride, dilation, top, out, axis):
    """With dilation a window's taps can all fall in the padding; that is an error."""
    starts = np.arange(out) * stride - top
    taps = starts[:, None] + np.arange(kernel) * dilation
    empty = np.flatnonzero(((taps < 0) | (taps >= size)).all(axis=1))
    if len(empty):
        raise ValueError(f"{func}: window {int(empty[0])} along {axis} has every tap in the "
                         f"padding (size {kernel}, dilation {dilation}, stride {stride}, "
                         f"input {size})")


def window_geometry(func, size, kernel, stride, padding, dilation=1, *, pool=False,
                    ceil_mode=False):
    """Where a (r, s) kernel slides over an input of size (h, w): returns
    (stride, dilation, pads, (ho, wo)) with stride and dilation as pairs and
    pads as ((top, bottom), (left, right)).  pool=True calls the kernel "the
    window" and also requires every pad to be smaller than the window, so that
    no window lies wholly in the padding (it would have no pixel to pool);
    ceil_mode (pooling) rounds the window count up, as PyTorch."""
    # written out per axis: this runs on every call, and generator expressions
    # cost a microsecond more than the call's own C overhead
    stride = as_pair(stride, "stride", func, 1)
    dilation = as_pair(dilation, "dilation", func, 1)
    extent = (dilation[0] * (kernel[0] - 1) + 1, dilation[1] * (kernel[1] - 1) + 1)
    pads = parse_padding(padding, func, size, extent, stride)
    (top, bottom), (left, right) = pads
    if pool and (max(top, bottom) >= kernel[0] or max(left, right) >= kernel[1]):
        raise ValueError(f"{func}: padding {pads} must be smaller than the window size "
                         f"{tuple(kernel)} on every side")
    padded = (size[0] + top + bottom, size[1] + left + right)
    if extent[0] > padded[0] or extent[1] > padded[1]:
        what = (f"window {extent[0]}x{extent[1]}" if pool else
                f"kernel ({extent[0]}x{extent[1]} after dilation)")
        raise ValueError(f"{func}: the {what} is larger than the padded input "
                         f"({padded[0]}x{padded[1]})")
    out = (_pooled_size(padded[0], extent[0], stride[0], size[0] + top, ceil_mode),
           _pooled_size(padded[1], extent[1], stride[1], size[1] + left, ceil_mode))
    if pool and dilation != (1, 1):
        _check_windows_hold_pixels(func, size[0], kernel[0], stride[0], dilation[0], top,
                                   out[0], "H")
        _check_windows_hold_pixels(func, size[1], kernel[1], stride[1], dilation[1], left,
                                   out[1], "W")
    return stride, dilation, pads, out


def check_size(shape, dtype, func, name):
    """A ValueError instead of an overflow when an array would be too large."""
    count = 1
    for d in shape:
        count *= int(d)
    if count * np.dtype(dtype).itemsize > MAX_BYTES:
        raise ValueError(f"{func}: {name} of shape {tuple(shape)} is too large to allocate")


def batched4(arr, name, func):
    """A 4-D view of a batched (4-D) or single-image (3-D) tensor, and whether
    a batch axis was added."""
    if arr.ndim == 4:
        return arr, False
    if arr.ndim == 3:
        return arr[np.newaxis], True
    raise ValueError(f"{func}: {name} must be 3-D (one image) or 4-D (a batch), got {arr.ndim}-D "
                     f"with shape {arr.shape}")


def nhwc_view(arr4, layout):
    """The (N, H, W, C)-ordered view of a 4-D tensor in `layout` (no copy)."""
    return arr4 if layout == "NHWC" else arr4.transpose(0, 2, 3, 1)


def from_nhwc_shape(shape, layout):
    n, h, w, c = shape
    return (n, h, w, c) if layout == "NHWC" else (n, c, h, w)


CACHE_LINE = 64


def empty_aligned(shape, dtype):
    """np.empty(shape, dtype) starting on a 64-byte cache line (NumPy aligns to
    16): an AVX-512 vector stored there fills one line instead of straddling
    two, and the depthwise kernels' streaming stores need whole lines."""
    dtype = np.dtype(dtype)
    count, pad = math.prod(shape), CACHE_LINE // dtype.itemsize
    raw = np.empty(count + pad, dtype)
    start = -_native.data_address(raw) % CACHE_LINE // dtype.itemsize
    return raw[start:start + count].reshape(shape)


def new_tensor(nhwc_shape, layout, dtype, unbatched, func, name):
    """A new C-contiguous tensor in `layout`, and its 4-D NHWC-ordered view."""
    shape = from_nhwc_shape(nhwc_shape, layout)
    check_size(shape, dtype, func, name)
    arr = empty_aligned(shape, dtype)
    view = nhwc_view(arr, layout)
    return (arr[0] if unbatched else arr), view


def checked_bias(b, n, dtype, func):
    """A bias of n values (one per output channel) as the kernels read it:
    C-contiguous in dtype, or None; ValueError when b has another shape."""
    if b is None:
        return None
    if b.shape != (n,):
        raise ValueError(f"{func}: b must have shape ({n},) to match w, got {b.shape}")
    return np.ascontiguousarray(b, dtype=dtype)


def into_out(out, y):
    """What a function with out= returns: y, or out with y's values copied in
    when the kernels wrote a temporary (output_tensor)."""
    if out is None:
        return y
    if y is not out:
        out[...] = y
    return out


def output_tensor(out, nhwc_shape, layout, dtype, unbatched, func, inputs):
    """The array a kernel writes (out itself where it can, else a new tensor
    the caller copies into out afterwards) and its 4-D NHWC-ordered view.  The
    kernels write NHWC pixels at any stride, so besides a C-contiguous out they
    take a channel slice of one (big[..., c0:c1], a concatenation's part)."""
    shape = from_nhwc_shape(nhwc_shape, layout)[1 if unbatched else 0:]
    if out is not None:
        target, _ = check_out(out, shape, dtype, func, inputs,
                              also=lambda a: layout == "NHWC" and _channel_slice(a))
        if target is out:
            return out, nhwc_view(out[np.newaxis] if unbatched else out, layout)
    return new_tensor(nhwc_shape, layout, dtype, unbatched, func, "the output")


def _channel_slice(a):
    """a is (N,) H, W, C with unit channel stride and its pixels evenly spaced
    over the whole batch (a channel slice of a C-contiguous NHWC array)."""
    a4 = a if a.ndim == 4 else a[np.newaxis]
    if a4.ndim != 4:
        return False
    (n, h, w, c), (sn, sh, sw, sc), item = a4.shape, a4.strides, a4.itemsize
    step = sw if w > 1 else sh if h > 1 else sn if n > 1 else c * item   # between pixels
    return (c == 1 or sc == item) and step >= c * item and step % item == 0 and \
        (w == 1 or sw == step) and (h == 1 or sh == w * step) and (n == 1 or sn == h * w * step)


def check_out(out, shape, dtype, func, inputs=(), also=None):
    """Validate `out=`; returns (target, needs_copy): the array to compute into
    and whether it must then be copied into out (non-contiguous out, unless
    also(out) says the caller's kernels write it, or out overlapping an
    input)."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{func}: out must be a NumPy array, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"{func}: out has shape {out.shape}, expected {tuple(shape)}")
    if out.dtype != dtype:
        raise TypeError(f"{func}: out has dtype {out.dtype}, expected {np.dtype(dtype)}")
    if not out.flags.writeable:
        raise ValueError(f"{func}: out is read-only")
    overlaps = any(np.may_share_memory(out, a) for a in inputs if a is not None)
    if (out.flags.c_contiguous or (also is not None and also(out))) and out.flags.aligned and \
            out.dtype.isnative and not overlaps:
        return out, False
    return empty_aligned(shape, dtype), True


_ACTIVATION_CODES = {}   # activation name -> the kernels' code


def check_activation(activation, func):
    """The activation code for the kernels (see _native.FC_ACT_*)."""
    codes = _ACTIVATION_CODES
    if not codes:   # filled once, at the first call (a dict per call cost a microsecond)
        codes.update({None: _native.FC_ACT_NONE, "relu": _native.FC_ACT_RELU,
                      "leaky_relu": _native.FC_ACT_LEAKY_RELU, "sigmoid": _native.FC_ACT_SIGMOID,
                      "tanh": _native.FC_ACT_TANH})
    valid_type = activation is None or isinstance(activation, str)
    key = activation.lower() if isinstance(activation, str) else activation
    if not valid_type or key not in codes:
        raise ValueError(
            f"{func}: activation must be None, 'relu', 'leaky_relu', 'sigmoid' or 'tanh', "
            f"got {shown(activation)}"
        )
    return codes[key]
