"""Batch normalisation: y = gamma * (x - mean) / sqrt(var + eps) + beta per
channel, with given statistics (batch_norm), with the batch's own
(batch_norm_train), and the backward pass of either.

x is at least 2-D; its channels are the last axis in layout "NHWC" and axis 1
in "NCHW", so an (N, features) matrix is the same in both.  Statistics run
over every other axis, are summed in double precision by the C kernels and are
returned as float64.
"""
import numpy as np

from . import _args, _native
from ._config import get_num_threads


def _rows(func, x, layout, dtype):
    """x as C-contiguous (rows, channels) in dtype, and the channels-last shape
    to restore it with _unrows."""
    if x.ndim < 2:
        raise ValueError(f"{func}: x must be at least 2-D (a batch with a channel axis), got "
                         f"{x.ndim}-D with shape {x.shape}")
    moved = x if layout == "NHWC" else np.moveaxis(x, 1, -1)
    rows = np.ascontiguousarray(moved, dtype=dtype).reshape(-1, moved.shape[-1])
    return rows, moved.shape


def _unrows(rows, moved_shape, layout):
    y = rows.reshape(moved_shape)
    return y if layout == "NHWC" else np.ascontiguousarray(np.moveaxis(y, -1, 1))


def _per_channel(func, name, value, channels):
    """value as a (C,) array of a supported dtype."""
    arr = _args.as_array(value, name, func)
    _args.result_dtype(func, **{name: arr})
    if arr.shape != (channels,):
        raise ValueError(f"{func}: {name} must have shape ({channels},), one value per channel "
                         f"of x, got {arr.shape}")
    return arr


def _setup(func, x, layout, eps, dy=None, **params):
    """Validated (rows, channels-last shape, layout, dtype, eps, params): the
    dtype follows dy (when given), x and the per-channel parameters."""
    x = _args.as_array(x, "x", func)
    layout = _args.check_layout(layout, func)
    eps = _args.check_real(eps, "eps", func)
    if not eps >= 0:
        raise ValueError(f"{func}: eps must be >= 0, got {eps}")
    dtype = _args.result_dtype(func, dy=dy, x=x, **params)
    rows, moved_shape = _rows(func, x, layout, dtype)
    params = {k: _per_channel(func, k, v, rows.shape[1]) for k, v in params.items()}
    return rows, moved_shape, layout, dtype, eps, params


def _statistics(func, mean, var, channels, eps):
    mean = _per_channel(func, "mean", mean, channels).astype(np.float64)
    var = _per_channel(func, "var", var, channels).astype(np.float64)
    return mean, 1.0 / np.sqrt(var + eps)


def _normalise(rows, mean, inv_std, gamma, beta):
    """y = x * scale + shift per channel, by the C kernel."""
    gamma = gamma.astype(np.float64)
    scale = (gamma * inv_std).astype(rows.dtype)
    shift = (beta - mean * gamma * inv_std).astype(rows.dtype)
    y = np.empty_like(rows)
    if y.size:
        _native.batchnorm_apply(rows, y, scale, shift, get_num_threads())
    return y


def batch_norm(x, mean, var, gamma, beta, *, eps=1e-5, layout="NHWC"):
    """Batch normalisation with the given per-channel statistics (inference,
    e.g. with running averages): gamma * (x - mean) / sqrt(var + eps) + beta.
    The result's dtype follows x, gamma and beta."""
    func = "batch_norm"
    rows, shape, layout, _, eps, p = _setup(func, x, layout, eps, gamma=gamma, beta=beta)
    mean, inv_std = _statistics(func, mean, var, rows.shape[1], eps)
    return _unrows(_normalise(rows, mean, inv_std, p["gamma"], p["beta"]), shape, layout)


def batch_norm_train(x, gamma, beta, *, eps=1e-5, layout="NHWC"):
    """Batch normalisation with the batch's own statistics (training).
    Returns (y, batch_mean, batch_var): the statistics per channel as float64,
    the variance biased (divided by the count, as used to normalise; PyTorch's
    running variance takes the unbiased one, var * count / (count - 1))."""
    func = "batch_norm_train"
    rows, shape, layout, _, eps, p = _setup(func, x, layout, eps, gamma=gamma, beta=beta)
    if len(rows) == 0:
        raise ValueError(f"{func}: x has no samples to compute batch statistics from "
                         f"(shape {np.shape(x)})")
    mean, var = np.zeros(rows.shape[1]), np.zeros(rows.shape[1])
    if rows.size:
        _native.batchnorm_stats(rows, mean, var, get_num_threads())
    y = _normalise(rows, mean, 1.0 / np.sqrt(var + eps), p["gamma"], p["beta"])
    return _unrows(y, shape, layout), mean, var


def batch_norm_backward(dy, x, mean, var, gamma, *, eps=1e-5, layout="NHWC", training=True):
    """Gradients (dx, dgamma, dbeta) of batch normalisation given dy = dL/dy.

    training=True differentiates batch_norm_train: mean and var must be the
    batch statistics it returned for this x, and dx includes the gradient
    through them.  training=False differentiates batch_norm, where mean and
    var are constants: dx = dy * gamma / sqrt(var + eps).  dtypes follow dy,
    x and gamma."""
    func = "batch_norm_backward"
    dy = _args.as_array(dy, "dy", func)
    rows, shape, layout, dtype, eps, p = _setup(func, x, layout, eps, dy=dy, gamma=gamma)
    if dy.shape != np.shape(x):
        raise ValueError(f"{func}: dy has shape {dy.shape} but x has shape {np.shape(x)}")
    g, _ = _rows(func, dy, layout, dtype)
    gamma = np.ascontiguousarray(p["gamma"], dtype=dtype)
    mean, inv_std = _statistics(func, mean, var, rows.shape[1], eps)
    if training:
        dx = np.empty_like(g)
        dgamma, dbeta = np.zeros(rows.shape[1]), np.zeros(rows.shape[1])
        if g.size:
            _native.batchnorm_backward(g, rows, mean, inv_std, gamma, dx, dgamma, dbeta,
                                       get_num_threads())
    else:
        xhat = (rows - mean) * inv_std
        dgamma, dbeta = (g * xhat).sum(axis=0), g.sum(axis=0)
        dx = (g * (gamma * inv_std)).astype(dtype)
    return _unrows(dx, shape, layout), dgamma.astype(dtype), dbeta.astype(dtype)
