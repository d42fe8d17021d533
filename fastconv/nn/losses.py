"""Losses: forward(pred, target) -> mean loss; backward() -> d loss / d pred.

Loss classes register with @register_loss so that Model.load can rebuild them
by name.  A saved config also names the loss's module: when the name is not
registered at load time (the module was never imported), loss_from_config
imports that module, whose @register_loss then registers it.
"""
import importlib

import numpy as np

from ..activations import sigmoid
from .caches import DropsCaches

LOSSES = {}


def register_loss(cls):
    """Class decorator: make a Loss subclass loadable by Model.load under its
    class name.  Two different classes may not share a name (re-registering
    the same class, e.g. after a module reload, replaces it)."""
    if not (isinstance(cls, type) and issubclass(cls, Loss)):
        raise TypeError(f"register_loss: expected a subclass of fastconv.nn.Loss, got {cls!r}")
    name = cls.__name__
    old = LOSSES.get(name)
    if old is not None and (old.__module__, old.__qualname__) != (cls.__module__,
                                                                  cls.__qualname__):
        raise ValueError(f"register_loss: a loss named {name!r} is already registered "
                         f"(from {old.__module__})")
    LOSSES[name] = cls
    return cls


class Loss(DropsCaches):
    """Base class; forward keeps the gradient for backward in self._grad (not pickled)."""

    def __call__(self, pred, target):
        return self.forward(pred, target)

    def get_config(self):
        """The class name, its module (imported by Model.load when needed) and
        the constructor's arguments (_config)."""
        return {"class": type(self).__name__, "module": type(self).__module__, **self._config()}

    def _config(self):
        return {}

    def accuracy(self, pred, target):
        """Fraction of correct predictions (NaN where the loss has no classes)."""
        return float("nan")


@register_loss
class SoftmaxCrossEntropy(Loss):
    """Softmax of logits (N, C) then cross-entropy with integer labels (N,)
    (or one-hot / probability rows (N, C)); log-sum-exp keeps it finite."""

    def forward(self, logits, target):
        z = np.asarray(logits, dtype=np.float64)
        if z.ndim != 2:
            raise ValueError(f"SoftmaxCrossEntropy: logits must be (N, C), got {z.shape}")
        target = np.asarray(target)
        if target.ndim == 1:
            onehot = np.zeros_like(z)
            onehot[np.arange(len(target)), target.astype(np.int64)] = 1.0
        else:
            onehot = target.astype(np.float64)
        if onehot.shape != z.shape:
            raise ValueError(f"SoftmaxCrossEntropy: target shape {target.shape} does not match "
                             f"logits {z.shape}")
        shifted = z - z.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self._grad = ((np.exp(log_p) - onehot) / len(z)).astype(np.asarray(logits).dtype)
        return float(-(onehot * log_p).sum() / max(len(z), 1))

    def backward(self):
        return self._grad

    def accuracy(self, logits, target):
        target = np.asarray(target)
        labels = target if target.ndim == 1 else target.argmax(axis=1)
        return float(np.mean(np.argmax(logits, axis=1) == labels))


@register_loss
class BinaryCrossEntropy(Loss):
    """The course's L(y_hat, y) = -(y log y_hat + (1 - y) log(1 - y_hat)), averaged.
    pred are probabilities (clipped to [eps, 1 - eps]) or, with
    from_logits=True, logits (computed stably as max(z, 0) - z y + log(1 + e^-|z|))."""

    def __init__(self, from_logits=False, eps=1e-7):
        self.from_logits = bool(from_logits)
        self.eps = float(eps)

    def forward(self, pred, target):
        p = np.asarray(pred, dtype=np.float64)
        y = np.asarray(target, dtype=np.float64).reshape(p.shape)
        n = max(p.size, 1)
        if self.from_logits:
            loss = np.maximum(p, 0) - p * y + np.log1p(np.exp(-np.abs(p)))
            grad = (sigmoid(p) - y) / n
        else:
            q = np.clip(p, self.eps, 1 - self.eps)
            loss = -(y * np.log(q) + (1 - y) * np.log(1 - q))
            grad = (q - y) / (q * (1 - q)) / n
        self._grad = grad.astype(np.asarray(pred).dtype)
        return float(loss.sum() / n)

    def backward(self):
        return self._grad

    def accuracy(self, pred, target):
        threshold = 0.0 if self.from_logits else 0.5
        p = np.asarray(pred)
        return float(np.mean((p > threshold) == (np.asarray(target).reshape(p.shape) > 0.5)))

    def _config(self):
        return {"from_logits": self.from_logits, "eps": self.eps}


@register_loss
class MeanSquaredError(Loss):
    """mean((pred - target)^2) over every element."""

    def forward(self, pred, target):
        p = np.asarray(pred, dtype=np.float64)
        diff = p - np.asarray(target, dtype=np.float64).reshape(p.shape)
        self._grad = (2 * diff / max(diff.size, 1)).astype(np.asarray(pred).dtype)
        return float(np.mean(diff ** 2)) if diff.size else 0.0

    def backward(self):
        return self._grad


def loss_from_config(config):
    """The loss get_config() described.  A name not registered yet is looked
    up after importing the module the config names; a saved file can thus make
    Model.load import any installed module, so load files you trust."""
    config = dict(config)
    name = config.pop("class")
    module = config.pop("module", None)
    if name not in LOSSES and module is not None:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ValueError(f"the saved model's loss {name!r} is defined in module {module!r}, "
                             f"which cannot be imported ({exc})") from exc
    if name not in LOSSES:
        where = f" (module {module!r} does not register it)" if module else ""
        raise ValueError(f"unknown loss {name!r} in the saved model{where}: define it with "
                         f"@fastconv.nn.register_loss and import its module before loading")
    return LOSSES[name](**config)

