"""matmul and gemm: argument policy around the C GEMM engine."""
import numpy as np

from . import _args, _native
from ._config import get_num_threads


def _gemm_into(a, b, c, alpha=1.0, beta=0.0):
    """c = alpha * a @ b + beta * c for 2-D arrays of one dtype (c written in place)."""
    if c.size:
        _native.gemm(a, b, c, alpha, beta, None, False, _native.FC_ACT_NONE, 0.0, get_num_threads())


_NATIVE_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _is_plain_matrix(arr):
    """A 2-D float32/float64 array the kernels can read as it is."""
    return (type(arr) is np.ndarray and arr.ndim == 2 and arr.dtype in _NATIVE_FLOATS
            and arr.flags.aligned)


def matmul(a, b):
    """a @ b with np.matmul's rules: 1-D operands are promoted to a row / column
    and the promoted axis removed again; leading axes broadcast."""
    if (_is_plain_matrix(a) and _is_plain_matrix(b) and a.dtype == b.dtype
            and a.shape[1] == b.shape[0]):
        # the common case, without the general path's Python overhead
        out = np.empty((a.shape[0], b.shape[1]), a.dtype)
        _gemm_into(a, b, out)
        return out
    func = "matmul"
    a = _args.as_array(a, "a", func)
    b = _args.as_array(b, "b", func)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"{func}: operands must be at least 1-D, got a.shape={a.shape}, "
                         f"b.shape={b.shape}")
    dtype = _args.result_dtype(func, a=a, b=b)
    a2 = a[np.newaxis, :] if a.ndim == 1 else a
    b2 = b[:, np.newaxis] if b.ndim == 1 else b
    m, k = a2.shape[-2:]
    k2, n = b2.shape[-2:]
    if k != k2:
        raise ValueError(f"{func}: a has {k} columns but b has {k2} rows "
                         f"(a.shape={a.shape}, b.shape={b.shape})")
    try:
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    except ValueError:
        raise ValueError(f"{func}: the batch axes of a.shape={a.shape} and b.shape={b.shape} "
                         f"do not broadcast") from None
    _args.check_size(batch + (m, n), dtype, func, "the result")
    out = np.empty(batch + (m, n), dtype)
    if out.size:
        a2 = _args.prepare(a2, dtype)
        b2 = _args.prepare(b2, dtype)
        if not batch:
            _gemm_into(a2, b2, out)
        else:
            _batched(a2, b2, out.reshape(-1, m, n), batch)
    if a.ndim == 1:
        out = out[..., 0, :]
    if b.ndim == 1:
        out = out[..., 0]
    if out.ndim == 0:
        return out[()]          # a scalar, as np.matmul gives for two vectors
    return out if out.flags.c_contiguous else out.copy()


def _offsets(arr, batch):
    """Element offsets of each (broadcast) batch item of arr from arr[0, ..., 0]."""
    lead = arr.ndim - 2
    strides = [0] * (len(batch) - lead) + [
        0 if dim == 1 else s // arr.itemsize for dim, s in zip(arr.shape[:lead], arr.strides[:lead])
    ]
    off = np.zeros(batch, np.int64)
    for axis, (extent, stride) in enumerate(zip(batch, strides)):
        shape = [1] * len(batch)
        shape[axis] = extent
        off = off + (np.arange(extent, dtype=np.int64) * stride).reshape(shape)
    return np.ascontiguousarray(off.ravel())


def _batched(a, b, out3, batch):
    first_a = a[(0,) * (a.ndim - 2)]
    first_b = b[(0,) * (b.ndim - 2)]
    if out3.shape[0] == 0:
        return
    _native.gemm_batched(first_a, _offsets(a, batch), first_b, _offsets(b, batch), out3,
                         get_num_threads())


def gemm(a, b, c=None, *, alpha=1.0, beta=0.0, trans_a=False, trans_b=False):
    """alpha * op(a) @ op(b) + beta * c, where op transposes when trans_* is true.
    a and b are 2-D; c (optional) broadcasts to the result's (m, n) shape and is
    not read when beta == 0.  Returns a new array; no input is modified."""
    func = "gemm"
    a = _args.as_array(a, "a", func)
    b = _args.as_array(b, "b", func)
    c = None if c is None else _args.as_array(c, "c", func)
    alpha = _args.check_real(alpha, "alpha", func)
    beta = _args.check_real(beta, "beta", func)
    for name, arr in (("a", a), ("b", b)):
        if arr.ndim != 2:
            raise ValueError(f"{func}: {name} must be 2-D, got {arr.ndim}-D with shape {arr.shape}")
    dtype = _args.result_dtype(func, a=a, b=b, c=c)
    opa = a.T if trans_a else a
    opb = b.T if trans_b else b
    (m, k), (k2, n) = opa.shape, opb.shape
    if k != k2:
        raise ValueError(f"{func}: op(a) has {k} columns but op(b) has {k2} rows "
                         f"(a.shape={a.shape}, b.shape={b.shape}, trans_a={trans_a}, "
                         f"trans_b={trans_b})")
    if c is not None:
        try:
            c_full = np.broadcast_to(c, (m, n))
        except ValueError:
            raise ValueError(f"{func}: c of shape {c.shape} does not broadcast to the result "
                             f"shape {(m, n)}") from None
    if c is None or beta == 0.0:
        out, beta = np.empty((m, n), dtype), 0.0
    else:
        out = np.array(c_full, dtype=dtype, order="C")
    _gemm_into(_args.prepare(opa, dtype), _args.prepare(opb, dtype), out, alpha, beta)
    return out
