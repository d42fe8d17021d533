"""Element-wise activations, softmax and their backward passes.

The backward functions follow PyTorch's convention: relu and leaky_relu take
the forward input x; sigmoid, tanh and softmax take the forward output y.
"""
import numpy as np

from . import _args, _native
from ._config import get_num_threads


def _unary(func, act, alpha, x):
    x = _args.as_array(x, "x", func)
    dtype = _args.result_dtype(func, x=x)
    xc = np.ascontiguousarray(x, dtype=dtype)
    y = np.empty(x.shape, dtype)
    if y.size:
        _native.activation(act, alpha, xc.reshape(-1), y.reshape(-1), get_num_threads())
    return y


def _binary_backward(func, act, alpha, dy, xy, xy_name):
    dy = _args.as_array(dy, "dy", func)
    xy = _args.as_array(xy, xy_name, func)
    if dy.shape != xy.shape:
        raise ValueError(f"{func}: dy has shape {dy.shape} but {xy_name} has shape {xy.shape}")
    dtype = _args.result_dtype(func, dy=dy, **{xy_name: xy})
    dx = np.empty(dy.shape, dtype)
    if dx.size:
        _native.activation_backward(act, alpha, np.ascontiguousarray(dy, dtype=dtype).reshape(-1),
                                    np.ascontiguousarray(xy, dtype=dtype).reshape(-1),
                                    dx.reshape(-1), get_num_threads())
    return dx


def relu(x):
    """max(x, 0); NaN stays NaN."""
    return _unary("relu", _native.FC_ACT_RELU, 0.0, x)


def leaky_relu(x, alpha=0.01):
    """x where x >= 0, alpha * x elsewhere."""
    return _unary("leaky_relu", _native.FC_ACT_LEAKY_RELU, _args.check_real(alpha, "alpha", "leaky_relu"), x)


def sigmoid(x):
    """1 / (1 + exp(-x)), computed without overflow."""
    return _unary("sigmoid", _native.FC_ACT_SIGMOID, 0.0, x)


def tanh(x):
    """The hyperbolic tangent, elementwise."""
    return _unary("tanh", _native.FC_ACT_TANH, 0.0, x)


def add_activation(a, b, activation=None, *, out=None):
    """activation(a + b) in one pass: a residual block's sum and activation
    ("relu", "leaky_relu" (slope 0.01), "sigmoid", "tanh" or None).  a and b
    have the same shape; out (a C-contiguous array of that shape and the
    result's dtype, which may be a or b) receives the result."""
    func = "add_activation"
    act = _args.check_activation(activation, func)
    a = _args.as_array(a, "a", func)
    b = _args.as_array(b, "b", func)
    if a.shape != b.shape:
        raise ValueError(f"{func}: a has shape {a.shape} but b has shape {b.shape}")
    dtype = _args.result_dtype(func, a=a, b=b)
    if out is None:
        y = np.empty(a.shape, dtype)
    else:
        y, _ = _args.check_out(out, a.shape, dtype, func)
        if y is not out:
            raise ValueError(f"{func}: out must be C-contiguous and aligned")
    if y.size:
        _native.add_activation(act, 0.01, np.ascontiguousarray(a, dtype=dtype).reshape(-1),
                               np.ascontiguousarray(b, dtype=dtype).reshape(-1), y.reshape(-1),
                               get_num_threads())
    return y


def relu_backward(dy, x):
    """dy where x > 0, else 0."""
    return _binary_backward("relu_backward", _native.FC_ACT_RELU, 0.0, dy, x, "x")


def leaky_relu_backward(dy, x, alpha=0.01):
    """dy where x > 0, else alpha * dy."""
    return _binary_backward("leaky_relu_backward", _native.FC_ACT_LEAKY_RELU,
                            _args.check_real(alpha, "alpha", "leaky_relu_backward"), dy, x, "x")


def sigmoid_backward(dy, y):
    """dy * y * (1 - y), from the forward output y."""
    return _binary_backward("sigmoid_backward", _native.FC_ACT_SIGMOID, 0.0, dy, y, "y")


def tanh_backward(dy, y):
    """dy * (1 - y**2), from the forward output y."""
    return _binary_backward("tanh_backward", _native.FC_ACT_TANH, 0.0, dy, y, "y")


def _rows_along(arr, axis):
    """arr with `axis` moved last, as C-contiguous (rows, n), and the moved shape."""
    moved = np.moveaxis(arr, axis, -1)
    rows = int(np.prod(moved.shape[:-1], dtype=np.int64))
    return np.ascontiguousarray(moved).reshape(rows, moved.shape[-1]), moved.shape


def _check_axis(axis, ndim, func):
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{func}: axis must be an integer, got {_args.shown(axis)}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{func}: axis {axis} is out of bounds for an array of dimension {ndim}")
    return int(axis)


def softmax(x, axis=-1):
    """exp(x - max) / sum(exp(x - max)) along axis."""
    func = "softmax"
    x = _args.as_array(x, "x", func)
    if x.ndim == 0:
        raise ValueError(f"{func}: x must be at least 1-D")
    axis = _check_axis(axis, x.ndim, func)
    dtype = _args.result_dtype(func, x=x)
    rows, moved_shape = _rows_along(x.astype(dtype, copy=False), axis)
    y = np.empty(rows.shape, dtype)
    if y.size:
        _native.softmax(rows, y, get_num_threads())
    return np.ascontiguousarray(np.moveaxis(y.reshape(moved_shape), -1, axis))


def softmax_backward(dy, y, axis=-1):
    """y * (dy - sum(dy * y, axis)), from the forward output y."""
    func = "softmax_backward"
    dy = _args.as_array(dy, "dy", func)
    y = _args.as_array(y, "y", func)
    if dy.shape != y.shape:
        raise ValueError(f"{func}: dy has shape {dy.shape} but y has shape {y.shape}")
    if y.ndim == 0:
        raise ValueError(f"{func}: y must be at least 1-D")
    axis = _check_axis(axis, y.ndim, func)
    dtype = _args.result_dtype(func, dy=dy, y=y)
    dy_rows, moved_shape = _rows_along(dy.astype(dtype, copy=False), axis)
    y_rows, _ = _rows_along(y.astype(dtype, copy=False), axis)
    dx = np.empty(y_rows.shape, dtype)
    if dx.size:
        _native.softmax_backward(dy_rows, y_rows, dx, get_num_threads())
    return np.ascontiguousarray(np.moveaxis(dx.reshape(moved_shape), -1, axis))
