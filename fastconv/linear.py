"""linear and linear_backward: a fully connected layer as one GEMM, the bias
and the activation fused into its store."""
import numpy as np

from . import _args, _native
from ._config import get_num_threads
from .activations import leaky_relu_backward, relu_backward, sigmoid_backward, tanh_backward
from .linalg import matmul

# The negative slope of activation="leaky_relu", as in conv2d.
LEAKY_SLOPE = 0.01

# d act / d z from the forward output y: y > 0 exactly where z > 0 for relu
# and leaky_relu, so y serves every activation.
_BACKWARD = {
    "relu": relu_backward,
    "leaky_relu": lambda dy, y: leaky_relu_backward(dy, y, LEAKY_SLOPE),
    "sigmoid": sigmoid_backward,
    "tanh": tanh_backward,
}


def _check_matrices(func, x, w):
    """x (N, in) and w (in, out) as arrays that agree."""
    x = _args.as_array(x, "x", func)
    w = _args.as_array(w, "w", func)
    for name, arr, axes in (("x", x, "(N, in_features)"), ("w", w, "(in_features, out_features)")):
        if arr.ndim != 2:
            raise ValueError(f"{func}: {name} must be 2-D {axes}, got {arr.ndim}-D with shape "
                             f"{arr.shape}")
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"{func}: x has {x.shape[1]} features but w expects {w.shape[0]} "
                         f"(x.shape={x.shape}, w.shape={w.shape})")
    return x, w


def linear(x, w, b=None, *, activation=None):
    """act(x @ w + b) for x (N, in_features), w (in_features, out_features)
    (Keras' Dense layout) and b (out_features,) -> (N, out_features).  The bias
    and activation (None, 'relu', 'leaky_relu' with slope 0.01, 'sigmoid',
    'tanh') are applied as the GEMM stores its result.  The result's dtype
    follows x and w; b is converted to it."""
    func = "linear"
    x, w = _check_matrices(func, x, w)
    b = None if b is None else _args.as_array(b, "b", func)
    dtype = _args.result_dtype(func, x=x, w=w)
    if b is not None:
        _args.result_dtype(func, b=b)
    bias = _args.checked_bias(b, w.shape[1], dtype, func)
    act = _args.check_activation(activation, func)
    _args.check_size((x.shape[0], w.shape[1]), dtype, func, "the output")
    y = np.empty((x.shape[0], w.shape[1]), dtype)
    if y.size:
        _native.gemm(_args.prepare(x, dtype), _args.prepare(w, dtype), y, 1.0, 0.0, bias, False,
                     act, LEAKY_SLOPE, get_num_threads())
    return y


def linear_backward(dy, x, w, y=None, *, activation=None):
    """Gradients (dx, dw, db) of linear with respect to x, w and the bias, given
    dy = dL/d(output).  With an activation, y must be linear's output (the
    activation's derivative is taken from it, as for conv2d layers); without
    one, y is not needed.  db is returned whether or not the forward pass had
    a bias.  dtypes follow dy, x and w."""
    func = "linear_backward"
    x, w = _check_matrices(func, x, w)
    dy = _args.as_array(dy, "dy", func)
    expected = (x.shape[0], w.shape[1])
    if dy.shape != expected:
        raise ValueError(f"{func}: dy has shape {dy.shape}, but linear's output has shape "
                         f"{expected}")
    _args.check_activation(activation, func)
    key = activation.lower() if isinstance(activation, str) else None
    dtype = _args.result_dtype(func, dy=dy, x=x, w=w)
    dz = dy.astype(dtype, copy=False)
    if key is not None:
        if y is None:
            raise ValueError(f"{func}: y (linear's output) is needed to differentiate "
                             f"activation={_args.shown(activation)}")
        y = _args.as_array(y, "y", func)
        _args.result_dtype(func, y=y)
        if y.shape != expected:
            raise ValueError(f"{func}: y has shape {y.shape}, but linear's output has shape "
                             f"{expected}")
        dz = _BACKWARD[key](dz, y).astype(dtype, copy=False)
    x, w = x.astype(dtype, copy=False), w.astype(dtype, copy=False)
    return matmul(dz, w.T), matmul(x.T, dz), dz.sum(axis=0)
