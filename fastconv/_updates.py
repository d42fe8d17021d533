"""The optimizers' parameter updates in compiled code: one pass over each
parameter and its state, in place (nn/optim.py calls these; reference.py has
the NumPy oracle)."""
import numpy as np

from . import _native
from ._config import get_num_threads


def _flat(a, dtype):
    """a as a 1-D contiguous array of dtype, sharing a's memory when it can."""
    return np.ascontiguousarray(a, dtype=dtype).reshape(-1)


def _in_place(w, update):
    """Run update(flat w); w keeps the result even when it is not contiguous."""
    if not isinstance(w, np.ndarray) or w.dtype not in (np.float32, np.float64):
        raise TypeError(f"optimizer: parameters must be float32 or float64 NumPy arrays, "
                        f"got {type(w).__name__} {getattr(w, 'dtype', '')}")
    if not w.flags.writeable:
        raise ValueError("optimizer: a parameter array is read-only")
    if w.size == 0:
        return
    if w.flags.c_contiguous and w.flags.aligned:
        update(w.reshape(-1))
    else:
        flat = _flat(w, w.dtype).copy()
        update(flat)
        w[...] = flat.reshape(w.shape)


def sgd_update(w, g, v, learning_rate, momentum):
    """w -= lr * v after v = momentum * v + g (PyTorch's momentum); v None: w -= lr * g.
    v, when given, is a contiguous array of w's shape and dtype, updated in place."""
    g = _flat(g, w.dtype)
    _in_place(w, lambda wf: _native.sgd_update(wf, g, None if v is None else v.reshape(-1),
                                               learning_rate, momentum, get_num_threads()))


def adam_update(w, g, m, v, t, learning_rate, beta_1, beta_2, epsilon):
    """Adam's step t (from 1) with bias correction; m and v (contiguous, w's shape
    and dtype) are updated in place."""
    g = _flat(g, w.dtype)
    _in_place(w, lambda wf: _native.adam_update(wf, g, m.reshape(-1), v.reshape(-1),
                                                learning_rate, beta_1, beta_2, epsilon, t,
                                                get_num_threads()))
