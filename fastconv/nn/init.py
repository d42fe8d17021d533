"""Weight initialisers and the generator layers draw from.

`seed(s)` makes every layer created afterwards reproducible."""
import numpy as np

_rng = np.random.default_rng(0)


def seed(value):
    """Reset the generator that layer constructors draw their weights from."""
    global _rng
    _rng = np.random.default_rng(value)


def generator():
    return _rng


def he_normal(shape, fan_in, dtype=np.float32):
    """N(0, 2 / fan_in): for ReLU networks (He et al. 2015)."""
    w = _rng.standard_normal(shape, dtype=np.float32) if dtype == np.float32 else \
        _rng.standard_normal(shape)
    w *= np.sqrt(2.0 / fan_in)
    return w.astype(dtype, copy=False)


def xavier_uniform(shape, fan_in, fan_out, dtype=np.float32):
    """U(-a, a) with a = sqrt(6 / (fan_in + fan_out)): for tanh/sigmoid (Glorot)."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return _rng.uniform(-limit, limit, shape).astype(dtype)


def initial_weights(shape, fan_in, fan_out, activation, dtype=np.float32):
    """He for ReLU-like (and linear) layers, Xavier for sigmoid/tanh."""
    if activation in ("sigmoid", "tanh"):
        return xavier_uniform(shape, fan_in, fan_out, dtype)
    return he_normal(shape, fan_in, dtype)
