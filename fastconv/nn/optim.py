"""Optimizers.  Argument names follow Keras (learning_rate, beta_1, beta_2,
epsilon); PyTorch's `lr` is accepted as an alias of learning_rate."""
import numpy as np

from .._updates import adam_update, sgd_update


def _state_like(state, w):
    """An optimizer state array for parameter w: zeros at first, else the state as a
    contiguous array of w's dtype (the compiled updates work on it in place)."""
    if state is None:
        return np.zeros(w.shape, w.dtype)
    return np.ascontiguousarray(state, dtype=w.dtype)


class Optimizer:
    """The base of SGD and Adam: a learning rate (Keras' learning_rate or PyTorch's lr)
    and per-parameter state; step(parameters) applies one update."""

    def __init__(self, learning_rate, lr):
        rate = learning_rate if lr is None else lr
        if not rate > 0:
            raise ValueError(f"{type(self).__name__}: learning_rate must be > 0, got {rate}")
        self.learning_rate = float(rate)
        self.state = {}

    def step(self, parameters):
        """Update every (path, layer, key) parameter in place from layer.grads[key]."""
        for path, layer, key in parameters:
            if key in layer.grads:
                self._update(path, layer.params[key], layer.grads[key].astype(layer.params[key].dtype,
                                                                               copy=False))
                # the mark Model.predict's compiled plan checks (nn/inference.py)
                layer._version = getattr(layer, "_version", 0) + 1

    def get_config(self):
        return {"class": type(self).__name__, **self._config()}


class SGD(Optimizer):
    """Gradient descent, with PyTorch-style momentum: v = momentum v + g; w -= lr v."""

    def __init__(self, learning_rate=0.01, momentum=0.0, *, lr=None):
        super().__init__(learning_rate, lr)
        self.momentum = float(momentum)

    def _update(self, path, w, g):
        v = None
        if self.momentum:
            v = self.state[path] = _state_like(self.state.get(path), w)   # zeros: v = g at first
        sgd_update(w, g, v, self.learning_rate, self.momentum)

    def _config(self):
        return dict(learning_rate=self.learning_rate, momentum=self.momentum)


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, *, lr=None):
        super().__init__(learning_rate, lr)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _update(self, path, w, g):
        m, v, t = self.state.get(path, (None, None, 0))
        m, v = _state_like(m, w), _state_like(v, w)
        t += 1
        adam_update(w, g, m, v, t, self.learning_rate, self.beta_1, self.beta_2, self.epsilon)
        self.state[path] = (m, v, t)

    def _config(self):
        return dict(learning_rate=self.learning_rate, beta_1=self.beta_1, beta_2=self.beta_2,
                    epsilon=self.epsilon)


OPTIMIZERS = {"SGD": SGD, "Adam": Adam}


def optimizer_from_config(config):
    config = dict(config)
    return OPTIMIZERS[config.pop("class")](**config)
