"""Model.predict's inference path: the network compiled once for evaluation.

What an inference engine does, on fastconv's kernels:

- a BatchNorm2D right after a Conv2D or Dense without activation is folded into
  its weights and bias (W' = W s, b' = (b - mean) s + beta, s = gamma / sqrt(var + eps),
  computed in float64);
- an activation layer right after a Conv2D or Dense runs in the kernel's store;
- a residual block's sum and activation run in the store of the body's last
  convolution (conv2d's residual), into the shortcut's buffer: the block's
  input itself when nothing else reads it, else the projection's output
  (otherwise one C pass after the body, in place);
- a Concat's branches write their channels of the joined output in place (the
  kernels take a channel slice as out), so no branch output is kept apart and
  nothing is copied;
- activations live in an arena (arena.py; one per calling thread, kept
  between calls): a buffer goes back as soon as its reader has run, and after
  the first call for an input shape every buffer has a planned place in one
  slab the size of the live set's peak, so a batch after the first allocates
  nothing;
- each convolution and pooling step checks its arguments and works out its
  geometry once per input shape (conv2d_runner, pool2d_runner), not per call;
  a GEMM convolution with few output pixels (7x7 maps at batch 1) also packs
  its weights into the GEMM's panels there, once, instead of in every call;
- no layer keeps its input or output (nothing will call backward).

The plan is rebuilt when the network changes: a layer or a parameter or buffer
array replaced (BatchNorm's running statistics in training, Layer.astype,
Model.load) or a parameter updated by an optimizer (Optimizer.step marks its
layer).  Writing into a parameter array by hand needs
Model.clear_inference_cache().  Layers it does not know run their own
forward(x, training=False).
"""
import threading

import numpy as np

from .. import _args
from ..activations import add_activation, leaky_relu
from ..batchnorm import batch_norm
from ..conv import conv2d, conv2d_runner
from ..linear import linear
from ..pool import avg_pool2d, global_avg_pool2d, max_pool2d, pool2d_runner
from .arena import Arena
from .layers import (_ACTIVATIONS, AvgPool2D, BatchNorm2D, Concat, Conv2D, Dense, Dropout, Flatten,
                     GlobalAvgPool2D, LeakyReLU, MaxPool2D, ReLU, Residual, Sequential, Sigmoid,
                     Tanh)

_KERNEL_LEAKY_ALPHA = 0.01     # the slope conv2d's and linear's fused leaky_relu use


# ---- the compiled steps: run(x, arena, consumable) -> y --------------------------------
# A step never writes into x unless consumable says that x is an arena buffer
# nothing reads after this step (only a residual block's fused sum does).

class _Layer:
    """A layer the plan does not know: its own forward in evaluation mode."""

    def __init__(self, layer):
        self.layer = layer

    def run(self, x, arena, consumable=False, out=None):
        return self.layer.forward(x, training=False)


def _folded(w, b, bn):
    """w and b with the BatchNorm bn applied to their output channels (last axis)."""
    mean = bn.buffers["running_mean"].astype(np.float64)
    var = bn.buffers["running_var"].astype(np.float64)
    gamma = bn.params["gamma"].astype(np.float64)
    beta = bn.params["beta"].astype(np.float64)
    scale = gamma / np.sqrt(var + bn.eps)
    bias = (0.0 if b is None else b.astype(np.float64)) - mean
    return ((w.astype(np.float64) * scale).astype(w.dtype),
            (bias * scale + beta).astype(w.dtype))


class _Runners:
    """What a step prepares once per input shape, not per call: its kernel
    calls (conv2d_runner, pool2d_runner: the argument checks and geometry took
    a fifth of YOLO-tiny's batch time), a Concat's branch shapes.  A dict, so
    threads sharing the plan each find their own shape's."""

    def __init__(self, make):
        self.make, self.cache = make, {}

    def get(self, *key):
        found = self.cache.get(key)
        if found is None:
            if len(self.cache) >= 16:
                self.cache.clear()
            found = self.cache[key] = self.make(*key)
        return found


class _Affine:
    """Conv2D or Dense, with a following BatchNorm2D folded in and a following
    activation in the kernel's store."""

    def __init__(self, layer, bn, activation):
        self.layer = layer
        w, b = layer.params["W"], layer.params.get("b")
        self.w, self.b = _folded(w, b, bn) if bn is not None else (w, b)
        self.activation = activation
        self.runners = _Runners(lambda shape, act: conv2d_runner(
            shape, self.w.dtype, self.w, self.b, activation=act, **layer._kw()))

    def run(self, x, arena, consumable=False, out=None):
        layer = self.layer
        x = self._input(x)
        if isinstance(layer, Dense):
            return linear(layer.checked_input(x), self.w, self.b, activation=self.activation)
        if x.ndim != 4:   # conv2d says why
            return conv2d(x, self.w, self.b, activation=self.activation, **layer._kw())
        shape, run = self.runners.get(x.shape, self.activation)
        if out is None or out.dtype != self.w.dtype or out.shape != shape:
            out = arena.take(shape, self.w.dtype)
        return run(x, out)

    def adds_residual(self):
        """A convolution without its own activation, whose store can add a residual."""
        return isinstance(self.layer, Conv2D) and self.activation is None and self.layer.groups == 1

    def run_adding(self, x, s, activation):
        """activation(conv(x) + s), into s (adds_residual() layers; s has the
        output's shape and dtype, C-contiguous)."""
        x = self._input(x)
        return self.runners.get(x.shape, activation)[1](x, s, True)

    def _input(self, x):
        return _args.prepare(np.asarray(x), self.w.dtype)


class _Function:
    """A parameter-free layer by its function (no cached input)."""

    def __init__(self, func):
        self.func = func

    def run(self, x, arena, consumable=False, out=None):
        return self.func(x)


class _Pool:
    """MaxPool2D or AvgPool2D, into an arena buffer."""

    def __init__(self, layer):
        self.layer = layer
        self.kind = "max" if type(layer) is MaxPool2D else "avg"
        self.runners = _Runners(lambda shape, dtype: pool2d_runner(
            self.kind, shape, dtype, layer.size, layer.stride, layer.padding))

    def run(self, x, arena, consumable=False, out=None):
        x = np.asarray(x)
        layer = self.layer
        if x.ndim != 4 or x.dtype not in (np.float32, np.float64):   # the pool function says why
            pool = max_pool2d if self.kind == "max" else avg_pool2d
            return pool(x, layer.size, layer.stride, layer.padding)
        x = _args.prepare(x, x.dtype)
        shape, run = self.runners.get(x.shape, x.dtype)
        if out is None or out.dtype != x.dtype or out.shape != shape:
            out = arena.take(shape, x.dtype)
        return run(x, out)


class _Sequence:
    def __init__(self, steps):
        self.steps = steps

    def run(self, x, arena, consumable=False, out=None):
        first = x
        for i, step in enumerate(self.steps):
            # a step's output is read by the next step alone; the last writes into out
            y = step.run(x, arena, consumable or x is not first,
                         out if i == len(self.steps) - 1 else None)
            if x is not first:
                arena.release(x, keep=y)
            x = y
        return x


class _Residual:
    def __init__(self, body, shortcut, activation):
        self.body, self.shortcut, self.activation = body, shortcut, activation
        steps = body.steps if isinstance(body, _Sequence) else [body]
        # the body's last convolution adds the shortcut in its store, unless it
        # would read the buffer it writes (an identity shortcut, a one-step body)
        last = steps[-1] if steps else None
        fusable = isinstance(last, _Affine) and last.adds_residual() and \
            (len(steps) > 1 or shortcut is not None)
        self.last = last if fusable else None
        self.head = None if len(steps) == 1 else steps[0] if len(steps) == 2 else \
            _Sequence(steps[:-1])

    def run(self, x, arena, consumable=False, out=None):
        if self.last is None:
            z = self.body.run(x, arena)
            s = x if self.shortcut is None else self.shortcut.run(x, arena)
            return self._add(z, s, x, arena)
        t = x if self.head is None else self.head.run(x, arena)
        s = x if self.shortcut is None else self.shortcut.run(x, arena)
        shape = self.last.runners.get(t.shape, self.activation)[0]
        if np.shape(s) != shape:
            raise ValueError(f"Residual: the body gives shape {shape} but the shortcut "
                             f"{np.shape(s)}")
        if arena.owns(s) and (s is not x or consumable) and not np.may_share_memory(s, t) \
                and s.dtype == self.last.w.dtype:
            y = self.last.run_adding(t, s, self.activation)   # into s
        else:
            y = self._add(self.last.run(t, arena), s, x, arena)
        if t is not x:
            arena.release(t, keep=x)
        return y

    def _add(self, z, s, x, arena):
        """activation(z + s) in one C pass, into z where the arena lends z."""
        z = np.ascontiguousarray(z)
        s = np.ascontiguousarray(s, dtype=z.dtype)
        if s.shape != z.shape:
            raise ValueError(f"Residual: the body gives shape {z.shape} but the shortcut "
                             f"{s.shape}")
        out = z if arena.owns(z) and not np.may_share_memory(z, x) else arena.take(z.shape, z.dtype)
        add_activation(z, s, self.activation, out=out)
        arena.release(s, keep=x)
        if out is not z:
            arena.release(z, keep=x)
        return out


class _Concat:
    """Each branch writes its channels of the joined output in place (a
    branch whose last step cannot is copied in)."""

    def __init__(self, layer, branches):
        self.layer, self.branches = layer, branches
        self.outputs = _Runners(lambda shape, dtype: (
            [tuple(b.output_shape(shape[1:])) for b in layer.branches],
            _result_dtype(branches, dtype)))

    def run(self, x, arena, consumable=False, out=None):
        x = np.asarray(x)
        shapes, dtype = self.outputs.get(x.shape, x.dtype)
        y = arena.take((x.shape[0],) + shapes[0][:-1] + (sum(s[-1] for s in shapes),), dtype)
        c0 = 0
        for i, (branch, shape) in enumerate(zip(self.branches, shapes)):
            part = y[..., c0:c0 + shape[-1]]
            got = branch.run(x, arena, False, part)
            if got is not part:
                if np.shape(got) != part.shape:
                    raise ValueError(f"Concat: branch {i} gives shape {np.shape(got)}, but its "
                                     f"output_shape says {part.shape[1:]}")
                part[...] = got
                arena.release(got, keep=x)
            c0 += shape[-1]
        return y


# ---- compiling a layer tree ------------------------------------------------------------

def _result_dtype(steps, dtype):
    """The dtype the steps' output has for an input of dtype: the first
    convolution's or dense layer's weights', else the input's."""
    for step in steps:
        if isinstance(step, _Affine):
            return step.w.dtype
        inner = _result_dtype(getattr(step, "steps", getattr(step, "branches", [])), dtype)
        if inner != dtype:
            return inner
    return dtype


def _activation_of(layer):
    """The fusable activation name of an activation layer, else None."""
    if type(layer) is ReLU:
        return "relu"
    if type(layer) is Sigmoid:
        return "sigmoid"
    if type(layer) is Tanh:
        return "tanh"
    if type(layer) is LeakyReLU and layer.alpha == _KERNEL_LEAKY_ALPHA:
        return "leaky_relu"
    return None


def _compile_list(layers):
    steps, i = [], 0
    while i < len(layers):
        layer = layers[i]
        i += 1
        if type(layer) in (Conv2D, Dense):
            bn, activation = None, layer.activation
            if activation is None and i < len(layers) and type(layers[i]) is BatchNorm2D \
                    and layers[i].num_features == layer.params["W"].shape[-1]:
                bn = layers[i]
                i += 1
            if activation is None and i < len(layers) and _activation_of(layers[i]):
                activation = _activation_of(layers[i])
                i += 1
            steps.append(_Affine(layer, bn, activation))
        elif type(layer) is not Dropout:      # dropout is the identity in evaluation
            steps.append(_compile(layer))
    return steps[0] if len(steps) == 1 else _Sequence(steps)


def _compile(layer):
    kind = type(layer)
    if kind is Sequential:
        return _compile_list(layer.layers)
    if kind in (Conv2D, Dense, Dropout):
        return _compile_list([layer])
    if kind is Residual:
        shortcut = None if layer.shortcut is None else _compile(layer.shortcut)
        return _Residual(_compile(layer.body), shortcut, layer.activation)
    if kind is Concat:
        return _Concat(layer, [_compile(b) for b in layer.branches])
    if kind in (ReLU, Sigmoid, Tanh):
        return _Function(_ACTIVATIONS[layer.name][0])
    if kind is LeakyReLU:
        return _Function(lambda x: leaky_relu(x, layer.alpha))
    if kind in (MaxPool2D, AvgPool2D):
        return _Pool(layer)
    if kind is GlobalAvgPool2D:
        return _Function(global_avg_pool2d)
    if kind is Flatten:
        return _Function(lambda x: np.reshape(x, (np.shape(x)[0], -1)))
    if kind is BatchNorm2D:
        return _Function(lambda x: batch_norm(
            layer._input(x), layer.buffers["running_mean"], layer.buffers["running_var"],
            layer.params["gamma"], layer.params["beta"], eps=layer.eps))
    return _Layer(layer)


def _layers(layer):
    yield layer
    for child in layer.children():
        yield from _layers(child)


def signature(network):
    """What the compiled plan depends on: every layer, its parameter and buffer
    arrays and its optimizer mark, by identity."""
    return tuple((id(layer), getattr(layer, "_version", 0),
                  tuple(id(a) for a in layer.params.values()),
                  tuple(id(a) for a in layer.buffers.values()))
                 for layer in _layers(network))


class InferencePlan:
    """The network compiled for evaluation; run(x) gives network.forward(x, training=False)
    within float rounding (BatchNorm folding reorders the arithmetic)."""

    def __init__(self, network):
        self.signature = signature(network)
        self.root = _compile(network)
        self._local = threading.local()

    def arena(self):
        """This thread's arena (Dask's threaded workers may share one model)."""
        arena = getattr(self._local, "arena", None)
        if arena is None:
            arena = self._local.arena = Arena()
        return arena

    def run(self, x):
        arena = self.arena()
        arena.begin((np.shape(x), getattr(x, "dtype", None)))
        completed = False
        try:
            y = self.root.run(x, arena)
            if arena.holds(y) or np.may_share_memory(y, x):
                y = np.array(y, copy=True)
            completed = True
        finally:
            arena.end(completed)
        return y
