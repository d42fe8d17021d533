"""Layers on NHWC batches, built on fastconv's kernels.

Every layer has forward(x, training=False) -> y, backward(dy) -> dx (the
gradient with respect to its input, after filling self.grads), and the dicts
params / grads (same keys).  Containers (Sequential, Residual, Concat) hold
child layers.  What a forward pass keeps for backward lives in attributes
named with a leading underscore, which pickling leaves out (caches.py).  get_config() / layer_from_config() describe the architecture
for Model.save / Model.load.
"""
import numpy as np

from .. import _args
from ..activations import (leaky_relu, leaky_relu_backward, relu, relu_backward, sigmoid,
                           sigmoid_backward, tanh, tanh_backward)
from ..batchnorm import batch_norm, batch_norm_backward, batch_norm_train
from ..conv import conv2d, conv2d_backward
from ..conv_transpose import conv_transpose2d, conv_transpose2d_backward
from ..linear import linear, linear_backward
from ..pool import (avg_pool2d, avg_pool2d_backward, global_avg_pool2d, max_pool2d,
                    max_pool2d_backward)
from . import init
from .caches import DropsCaches

# forward and backward of each activation; the backward takes the forward
# output y, which carries the sign of the input for relu and leaky_relu
_ACTIVATIONS = {
    "relu": (relu, relu_backward),
    "leaky_relu": (leaky_relu, leaky_relu_backward),
    "sigmoid": (sigmoid, sigmoid_backward),
    "tanh": (tanh, tanh_backward),
}


def _check_activation(activation, layer):
    _args.check_activation(activation, layer)      # raises for unknown names
    return activation


def _activation_grad(dy, y, activation):
    return dy if activation is None else _ACTIVATIONS[activation][1](dy, y)


def _positive(value, name, layer):
    return _args.check_int(value, name, layer, 1)


class Layer(DropsCaches):
    """Base class: a layer without parameters that passes its input through."""

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.buffers = {}      # state saved with the model but not trained (e.g. running means)

    def forward(self, x, training=False):
        raise NotImplementedError

    def backward(self, dy):
        raise NotImplementedError

    def output_shape(self, input_shape):
        """Shape of one sample's output for one sample's input shape."""
        return tuple(input_shape)

    def children(self):
        return []

    def get_config(self):
        return {"class": type(self).__name__, **self._config()}

    def _config(self):
        return {}

    def parameters(self, prefix=""):
        """(path, layer, key) for every trainable array, depth first."""
        for key in self.params:
            yield prefix + key, self, key
        for i, child in enumerate(self.children()):
            yield from child.parameters(f"{prefix}{i}.")

    def named_buffers(self, prefix=""):
        for key in self.buffers:
            yield prefix + key, self, key
        for i, child in enumerate(self.children()):
            yield from child.named_buffers(f"{prefix}{i}.")

    def num_params(self):
        return sum(layer.params[key].size for _, layer, key in self.parameters())

    def astype(self, dtype):
        """Convert parameters and buffers (e.g. to float64 for gradient checks)."""
        for _, layer, key in self.parameters():
            layer.params[key] = layer.params[key].astype(dtype)
        for _, layer, key in self.named_buffers():
            layer.buffers[key] = layer.buffers[key].astype(dtype)
        return self

    def __call__(self, x, training=False):
        return self.forward(x, training)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._config().items())
        return f"{type(self).__name__}({args})"

    def _input(self, x):
        """x as an array in the parameters' dtype (float32 unless converted)."""
        dtype = next(iter(self.params.values())).dtype if self.params else None
        x = np.asarray(x)
        if dtype is not None and x.dtype != dtype:
            x = x.astype(dtype)
        return x


class Conv2D(Layer):
    """2-D convolution of NHWC batches; weights W (R, S, in/groups, out), bias b."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, activation=None):
        super().__init__()
        name = "Conv2D"
        self.in_channels = _positive(in_channels, "in_channels", name)
        self.out_channels = _positive(out_channels, "out_channels", name)
        self.kernel_size = _args.as_pair(kernel_size, "kernel_size", name, 1)
        self.stride = _args.as_pair(stride, "stride", name, 1)
        self.dilation = _args.as_pair(dilation, "dilation", name, 1)
        self.groups = _positive(groups, "groups", name)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"{name}: groups={groups} must divide in_channels={in_channels} "
                             f"and out_channels={out_channels}")
        self.padding = padding
        self.bias = bool(bias)
        self.activation = _check_activation(activation, name)
        self.need_dx = True      # the first layer of a model does not need dx
        r, s = self.kernel_size
        cg = self.in_channels // self.groups
        self.params["W"] = init.initial_weights((r, s, cg, self.out_channels), r * s * cg,
                                                r * s * self.out_channels // self.groups,
                                                self.activation)
        if self.bias:
            self.params["b"] = np.zeros(self.out_channels, np.float32)

    def _kw(self):
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation,
                    groups=self.groups)

    def forward(self, x, training=False):
        self._x = self._input(x)
        self._y = conv2d(self._x, self.params["W"], self.params.get("b"),
                         activation=self.activation, **self._kw())
        return self._y

    def backward(self, dy):
        dz = _activation_grad(dy, self._y, self.activation)
        dx, dw, db = conv2d_backward(dz, self._x, self.params["W"], need_dx=self.need_dx,
                                     **self._kw())
        self.grads["W"] = dw
        if self.bias:
            self.grads["b"] = db
        return dx

    def output_shape(self, input_shape):
        h, w, _ = input_shape
        *_, (ho, wo) = _args.window_geometry("Conv2D", (h, w), self.kernel_size, self.stride,
                                             self.padding, self.dilation)
        return (ho, wo, self.out_channels)

    def _config(self):
        return dict(in_channels=self.in_channels, out_channels=self.out_channels,
                    kernel_size=list(self.kernel_size), stride=list(self.stride),
                    padding=self.padding if isinstance(self.padding, (str, int)) else
                    np.asarray(self.padding).tolist(),
                    dilation=list(self.dilation), groups=self.groups, bias=self.bias,
                    activation=self.activation)


class Conv2DTranspose(Conv2D):
    """Transposed 2-D convolution of NHWC batches (upsampling by `stride`);
    weights W (R, S, out/groups, in) as TensorFlow's conv2d_transpose, bias b."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, dilation=1, groups=1, bias=True, activation=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, activation)
        r, s = self.kernel_size
        kg = self.out_channels // self.groups
        self.output_padding = _args.as_pair(output_padding, "output_padding",
                                            "Conv2DTranspose", 0)
        # each input pixel feeds r * s * kg outputs; each output sums about
        # r * s * in / (groups * stride^2) inputs
        fan_in = max(r * s * self.in_channels // (self.groups * self.stride[0] * self.stride[1]),
                     1)
        self.params["W"] = init.initial_weights((r, s, kg, self.in_channels), fan_in,
                                                r * s * kg, self.activation)

    def _kw(self):
        return dict(super()._kw(), output_padding=self.output_padding)

    def forward(self, x, training=False):
        self._x = self._input(x)
        self._y = conv_transpose2d(self._x, self.params["W"], self.params.get("b"),
                                   activation=self.activation, **self._kw())
        return self._y

    def backward(self, dy):
        dz = _activation_grad(dy, self._y, self.activation)
        dx, dw, db = conv_transpose2d_backward(dz, self._x, self.params["W"],
                                               need_dx=self.need_dx, **self._kw())
        self.grads["W"] = dw
        if self.bias:
            self.grads["b"] = db
        return dx

    def output_shape(self, input_shape):
        h, w, c = input_shape
        probe = np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), (0, h, w, c),
                                                (0, 0, 0, 0))
        return conv_transpose2d(probe, self.params["W"], **self._kw()).shape[1:]

    def _config(self):
        return dict(super()._config(), output_padding=list(self.output_padding))


class _Pool(Layer):
    _forward = _backward = None

    def __init__(self, size, stride=None, padding=0):
        super().__init__()
        name = type(self).__name__
        self.size = _args.as_pair(size, "size", name, 1)
        self.stride = self.size if stride is None else _args.as_pair(stride, "stride", name, 1)
        self.padding = padding

    def forward(self, x, training=False):
        self._x = x
        return type(self)._forward(x, self.size, self.stride, self.padding)

    def backward(self, dy):
        return type(self)._backward(dy, self._x, self.size, self.stride, self.padding)

    def output_shape(self, input_shape):
        h, w, c = input_shape
        *_, (ho, wo) = _args.window_geometry(type(self).__name__, (h, w), self.size, self.stride,
                                             self.padding, pool=True)
        return (ho, wo, c)

    def _config(self):
        return dict(size=list(self.size), stride=list(self.stride),
                    padding=self.padding if isinstance(self.padding, (str, int)) else
                    np.asarray(self.padding).tolist())


class MaxPool2D(_Pool):
    """Max pooling; the gradient goes to the first maximum of each window."""
    _forward = staticmethod(max_pool2d)
    _backward = staticmethod(max_pool2d_backward)


class AvgPool2D(_Pool):
    """Average pooling over the real (unpadded) pixels of each window."""
    _forward = staticmethod(avg_pool2d)
    _backward = staticmethod(avg_pool2d_backward)


class GlobalAvgPool2D(Layer):
    """(N, H, W, C) -> (N, C): the mean over each feature map."""

    def forward(self, x, training=False):
        self._shape = np.shape(x)
        return global_avg_pool2d(x)

    def backward(self, dy):
        n, h, w, c = self._shape
        return np.broadcast_to((dy / (h * w))[:, None, None, :], self._shape).copy()

    def output_shape(self, input_shape):
        return (input_shape[-1],)


class Flatten(Layer):
    """(N, ...) -> (N, prod(...))."""

    def forward(self, x, training=False):
        self._shape = np.shape(x)
        return np.reshape(x, (self._shape[0], -1))

    def backward(self, dy):
        return np.reshape(dy, self._shape)

    def output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)


class Dense(Layer):
    """y = act(x W + b) for x (N, in_features), W (in_features, out_features).
    The bias and activation are fused into the GEMM's store."""

    def __init__(self, in_features, out_features, activation=None, bias=True):
        super().__init__()
        self.in_features = _positive(in_features, "in_features", "Dense")
        self.out_features = _positive(out_features, "out_features", "Dense")
        self.activation = _check_activation(activation, "Dense")
        self.bias = bool(bias)
        self.params["W"] = init.initial_weights((self.in_features, self.out_features),
                                                self.in_features, self.out_features,
                                                self.activation)
        if self.bias:
            self.params["b"] = np.zeros(self.out_features, np.float32)

    def checked_input(self, x):
        """x in the weights' dtype; ValueError unless its shape is (N, in_features)."""
        x = self._input(x)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"Dense: expected input of shape (N, {self.in_features}), "
                             f"got {x.shape}")
        return x

    def forward(self, x, training=False):
        self._x = x = self.checked_input(x)
        self._y = linear(x, self.params["W"], self.params.get("b"), activation=self.activation)
        return self._y

    def backward(self, dy):
        dx, self.grads["W"], db = linear_backward(dy, self._x, self.params["W"], self._y,
                                                  activation=self.activation)
        if self.bias:
            self.grads["b"] = db
        return dx

    def output_shape(self, input_shape):
        return (self.out_features,)

    def _config(self):
        return dict(in_features=self.in_features, out_features=self.out_features,
                    activation=self.activation, bias=self.bias)


class _Activation(Layer):
    name = None

    def forward(self, x, training=False):
        self._y = _ACTIVATIONS[self.name][0](x)
        return self._y

    def backward(self, dy):
        return _ACTIVATIONS[self.name][1](dy, self._y)


class ReLU(_Activation):
    """max(x, 0) as a layer."""

    name = "relu"


class Sigmoid(_Activation):
    """1 / (1 + exp(-x)) as a layer."""

    name = "sigmoid"


class Tanh(_Activation):
    """tanh(x) as a layer."""

    name = "tanh"


class LeakyReLU(Layer):
    """x where x >= 0, alpha * x elsewhere, as a layer."""

    def __init__(self, alpha=0.01):
        super().__init__()
        self.alpha = _args.check_real(alpha, "alpha", "LeakyReLU")

    def forward(self, x, training=False):
        self._y = leaky_relu(x, self.alpha)
        return self._y

    def backward(self, dy):
        return leaky_relu_backward(dy, self._y, self.alpha)

    def _config(self):
        return dict(alpha=self.alpha)


class BatchNorm2D(Layer):
    """Batch normalisation over all axes but the last (channels): NHWC maps or
    (N, features).  Running statistics follow PyTorch (momentum 0.1, unbiased
    running variance); evaluation uses them.  The statistics, the normalisation
    and the backward pass run in C, with channel sums in double precision."""

    def __init__(self, num_features, momentum=0.1, eps=1e-5):
        super().__init__()
        self.num_features = _positive(num_features, "num_features", "BatchNorm2D")
        self.momentum = float(momentum)
        self.eps = float(eps)
        self.params["gamma"] = np.ones(self.num_features, np.float32)
        self.params["beta"] = np.zeros(self.num_features, np.float32)
        self.buffers["running_mean"] = np.zeros(self.num_features, np.float32)
        self.buffers["running_var"] = np.ones(self.num_features, np.float32)

    def forward(self, x, training=False):
        x = self._input(x)
        if x.shape[-1] != self.num_features:
            raise ValueError(f"BatchNorm2D: expected {self.num_features} channels, got "
                             f"{x.shape[-1]} (shape {x.shape})")
        gamma, beta = self.params["gamma"], self.params["beta"]
        self._x = x
        # an empty batch has no statistics: it is normalised with the running ones
        self._training = training and x.size > 0
        if self._training:
            y, self._mean, self._var = batch_norm_train(x, gamma, beta, eps=self.eps)
            m, count = self.momentum, x.size // self.num_features
            unbiased = self._var * count / max(count - 1, 1)
            for key, value in (("running_mean", self._mean), ("running_var", unbiased)):
                buf = self.buffers[key]
                self.buffers[key] = ((1 - m) * buf + m * value).astype(buf.dtype)
            return y
        self._mean, self._var = self.buffers["running_mean"], self.buffers["running_var"]
        return batch_norm(x, self._mean, self._var, gamma, beta, eps=self.eps)

    def backward(self, dy):
        gamma = self.params["gamma"]
        dy = np.asarray(dy, dtype=self._x.dtype).reshape(self._x.shape)
        dx, dgamma, dbeta = batch_norm_backward(dy, self._x, self._mean, self._var, gamma,
                                                eps=self.eps, training=self._training)
        self.grads["gamma"] = dgamma.astype(gamma.dtype)
        self.grads["beta"] = dbeta.astype(gamma.dtype)
        return dx

    def _config(self):
        return dict(num_features=self.num_features, momentum=self.momentum, eps=self.eps)


class Dropout(Layer):
    """Inverted dropout: in training, zero each value with probability rate and
    scale the rest by 1 / (1 - rate); identity in evaluation."""

    def __init__(self, rate=0.5):
        super().__init__()
        self.rate = _args.check_real(rate, "rate", "Dropout")
        if not 0 <= self.rate < 1:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate}")

    def forward(self, x, training=False):
        if not training or self.rate == 0:
            self._mask = None
            return x
        keep = init.generator().random(np.shape(x)) >= self.rate
        self._mask = (keep / (1 - self.rate)).astype(np.asarray(x).dtype)
        return x * self._mask

    def backward(self, dy):
        return dy if self._mask is None else dy * self._mask

    def _config(self):
        return dict(rate=self.rate)


class Sequential(Layer):
    """Layers applied one after another."""

    def __init__(self, *layers):
        super().__init__()
        self.layers = list(layers[0]) if len(layers) == 1 and isinstance(layers[0], (list, tuple)) \
            else list(layers)

    def add(self, layer):
        self.layers.append(layer)
        return self

    def children(self):
        return self.layers

    def forward(self, x, training=False):
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def backward(self, dy):
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    def output_shape(self, input_shape):
        for layer in self.layers:
            input_shape = layer.output_shape(input_shape)
        return input_shape

    def get_config(self):
        return {"class": "Sequential", "layers": [l.get_config() for l in self.layers]}

    def __repr__(self):
        inner = ",\n  ".join(repr(l).replace("\n", "\n  ") for l in self.layers)
        return f"Sequential(\n  {inner}\n)"


class Residual(Layer):
    """A ResNet block: act(body(x) + shortcut(x)); shortcut None is the identity,
    or a projection layer (e.g. a strided 1x1 Conv2D + BatchNorm2D)."""

    def __init__(self, body, shortcut=None, activation="relu"):
        super().__init__()
        self.body = body
        self.shortcut = shortcut
        self.activation = _check_activation(activation, "Residual")

    def children(self):
        return [self.body] + ([self.shortcut] if self.shortcut is not None else [])

    def forward(self, x, training=False):
        z = self.body.forward(x, training)
        z = z + (x if self.shortcut is None else self.shortcut.forward(x, training))
        self._y = z if self.activation is None else _ACTIVATIONS[self.activation][0](z)
        return self._y

    def backward(self, dy):
        dz = _activation_grad(dy, self._y, self.activation)
        dx = self.body.backward(dz)
        return dx + (dz if self.shortcut is None else self.shortcut.backward(dz))

    def output_shape(self, input_shape):
        return self.body.output_shape(input_shape)

    def get_config(self):
        return {"class": "Residual", "body": self.body.get_config(),
                "shortcut": None if self.shortcut is None else self.shortcut.get_config(),
                "activation": self.activation}


class Concat(Layer):
    """An Inception module: every branch sees the input, outputs are joined on
    the channel axis."""

    def __init__(self, *branches):
        super().__init__()
        self.branches = list(branches)

    def children(self):
        return self.branches

    def forward(self, x, training=False):
        outs = [b.forward(x, training) for b in self.branches]
        self._sizes = [o.shape[-1] for o in outs]
        return np.concatenate(outs, axis=-1)

    def backward(self, dy):
        splits = np.split(dy, np.cumsum(self._sizes)[:-1], axis=-1)
        dx = None
        for branch, d in zip(self.branches, splits):
            g = branch.backward(np.ascontiguousarray(d))
            dx = g if dx is None else dx + g
        return dx

    def output_shape(self, input_shape):
        shapes = [b.output_shape(input_shape) for b in self.branches]
        return tuple(shapes[0][:-1]) + (sum(s[-1] for s in shapes),)

    def get_config(self):
        return {"class": "Concat", "branches": [b.get_config() for b in self.branches]}


LAYERS = {cls.__name__: cls for cls in (Conv2D, Conv2DTranspose, MaxPool2D, AvgPool2D, GlobalAvgPool2D, Flatten,
                                        Dense, ReLU, LeakyReLU, Sigmoid, Tanh, BatchNorm2D,
                                        Dropout)}


def layer_from_config(config):
    """Rebuild a layer (with fresh weights) from get_config()'s description."""
    config = dict(config)
    kind = config.pop("class")
    if kind == "Sequential":
        return Sequential(*[layer_from_config(c) for c in config["layers"]])
    if kind == "Residual":
        shortcut = config["shortcut"]
        return Residual(layer_from_config(config["body"]),
                        None if shortcut is None else layer_from_config(shortcut),
                        config["activation"])
    if kind == "Concat":
        return Concat(*[layer_from_config(c) for c in config["branches"]])
    if kind not in LAYERS:
        raise ValueError(f"unknown layer type {kind!r} in the saved architecture")
    return LAYERS[kind](**config)
