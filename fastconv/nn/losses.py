"""Losses: forward(pred, target) -> mean loss; backward() -> d loss / d pred."""
import numpy as np

from ..activations import sigmoid


class Loss:
    def __call__(self, pred, target):
        return self.forward(pred, target)

    def get_config(self):
        return {"class": type(self).__name__}

    def accuracy(self, pred, target):
        """Fraction of correct predictions (NaN where the loss has no classes)."""
        return float("nan")


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

    def get_config(self):
        return {"class": "BinaryCrossEntropy", "from_logits": self.from_logits, "eps": self.eps}


class MeanSquaredError(Loss):
    """mean((pred - target)^2) over every element."""

    def forward(self, pred, target):
        p = np.asarray(pred, dtype=np.float64)
        diff = p - np.asarray(target, dtype=np.float64).reshape(p.shape)
        self._grad = (2 * diff / max(diff.size, 1)).astype(np.asarray(pred).dtype)
        return float(np.mean(diff ** 2)) if diff.size else 0.0

    def backward(self):
        return self._grad


LOSSES = {cls.__name__: cls for cls in (SoftmaxCrossEntropy, BinaryCrossEntropy, MeanSquaredError)}


def loss_from_config(config):
    config = dict(config)
    name = config.pop("class")
    if name not in LOSSES:
        from .. import detect  # noqa: F401  (registers the detection losses)
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r} in the saved model")
    return LOSSES[name](**config)

