"""The same network in PyTorch and in ONNX, built from a fastconv.nn layer tree
with its weights, so the whole-network benchmarks compare one architecture.

fastconv runs NHWC and flattens (h, w, c); the mirrors run NCHW (PyTorch in
channels_last memory) and transpose to NHWC before flattening, so the Dense
weights carry over unchanged and the outputs agree (check_agreement)."""
import numpy as np

from fastconv import nn

_ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh")


def _pair(value, name, layer):
    if isinstance(value, (int, np.integer)):
        return (int(value), int(value))
    if isinstance(value, (tuple, list)) and len(value) == 2 and \
            all(isinstance(v, (int, np.integer)) for v in value):
        return tuple(int(v) for v in value)
    raise ValueError(f"model_mirror: {layer} {name}={value!r} is not an int or a pair of ints")


def _nchw_weights(w):
    """(R, S, C / groups, K) -> PyTorch's and ONNX's (K, C / groups, R, S)."""
    return np.ascontiguousarray(np.transpose(w, (3, 2, 0, 1)))


# ---- PyTorch -------------------------------------------------------------------------
def to_torch(layer):
    """A torch.nn.Module computing what `layer` computes (NCHW in and out for
    feature maps), with copies of its parameters and running statistics."""
    import torch
    tnn = torch.nn

    class Residual(tnn.Module):
        def __init__(self, body, shortcut, act):
            super().__init__()
            self.body, self.shortcut, self.act = body, shortcut, act

        def forward(self, x):
            z = self.body(x) + (x if self.shortcut is None else self.shortcut(x))
            return self.act(z)

    class Concat(tnn.Module):
        def __init__(self, branches):
            super().__init__()
            self.branches = tnn.ModuleList(branches)

        def forward(self, x):
            return torch.cat([b(x) for b in self.branches], dim=1)

    class FlattenNHWC(tnn.Module):
        def forward(self, x):
            return x.permute(0, 2, 3, 1).flatten(1) if x.dim() == 4 else x.flatten(1)

    def act(name):
        return {None: tnn.Identity, "relu": tnn.ReLU, "leaky_relu": tnn.LeakyReLU,
                "sigmoid": tnn.Sigmoid, "tanh": tnn.Tanh}[name]()

    def param(a):
        return tnn.Parameter(torch.from_numpy(np.array(a, np.float32)))

    def build(l):
        if isinstance(l, nn.Sequential):
            return tnn.Sequential(*[build(c) for c in l.layers])
        if isinstance(l, nn.Residual):
            return Residual(build(l.body), None if l.shortcut is None else build(l.shortcut),
                            act(l.activation))
        if isinstance(l, nn.Concat):
            return Concat([build(b) for b in l.branches])
        if type(l) is nn.Conv2D:
            conv = tnn.Conv2d(l.in_channels, l.out_channels, l.kernel_size, l.stride,
                              _pair(l.padding, "padding", "Conv2D"), l.dilation, l.groups,
                              bias=l.bias)
            conv.weight = param(_nchw_weights(l.params["W"]))
            if l.bias:
                conv.bias = param(l.params["b"])
            return conv if l.activation is None else tnn.Sequential(conv, act(l.activation))
        if isinstance(l, nn.BatchNorm2D):
            bn = tnn.BatchNorm2d(l.num_features, l.eps, l.momentum)
            bn.weight, bn.bias = param(l.params["gamma"]), param(l.params["beta"])
            bn.running_mean.copy_(torch.from_numpy(l.buffers["running_mean"]))
            bn.running_var.copy_(torch.from_numpy(l.buffers["running_var"]))
            return bn
        if isinstance(l, nn.Dense):
            lin = tnn.Linear(l.in_features, l.out_features, bias="b" in l.params)
            lin.weight = param(l.params["W"].T)
            if "b" in l.params:
                lin.bias = param(l.params["b"])
            return lin if l.activation is None else tnn.Sequential(lin, act(l.activation))
        if isinstance(l, (nn.MaxPool2D, nn.AvgPool2D)):
            pad = _pair(l.padding, "padding", type(l).__name__)
            if isinstance(l, nn.MaxPool2D):
                return tnn.MaxPool2d(l.size, l.stride, pad)
            return tnn.AvgPool2d(l.size, l.stride, pad, count_include_pad=False)
        if isinstance(l, nn.GlobalAvgPool2D):
            return tnn.Sequential(tnn.AdaptiveAvgPool2d(1), tnn.Flatten())
        if isinstance(l, nn.Flatten):
            return FlattenNHWC()
        if isinstance(l, nn.Dropout):
            return tnn.Dropout(l.rate)
        for name, cls in (("relu", nn.ReLU), ("sigmoid", nn.Sigmoid), ("tanh", nn.Tanh)):
            if isinstance(l, cls):
                return act(name)
        if isinstance(l, nn.LeakyReLU):
            return tnn.LeakyReLU(l.alpha)
        raise ValueError(f"model_mirror: no PyTorch mirror for {type(l).__name__}")

    return build(layer)


# ---- ONNX ----------------------------------------------------------------------------
class _Graph:
    """Nodes and initializers of an NCHW inference graph, named in order."""

    def __init__(self):
        from onnx import helper, numpy_helper
        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, hint):
        self.count += 1
        return f"{hint}{self.count}"

    def const(self, array, hint):
        name = self.name(hint)
        self.inits.append(self.numpy_helper.from_array(np.asarray(array, np.float32), name))
        return name

    def node(self, op, inputs, **attrs):
        out = self.name(op.lower())
        self.nodes.append(self.helper.make_node(op, inputs, [out], **attrs))
        return out

    def act(self, x, name):
        if name is None:
            return x
        if name == "leaky_relu":
            return self.node("LeakyRelu", [x], alpha=0.01)
        return self.node({"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}[name], [x])

    def add(self, l, x):
        if isinstance(l, nn.Sequential):
            for child in l.layers:
                x = self.add(child, x)
            return x
        if isinstance(l, nn.Residual):
            short = x if l.shortcut is None else self.add(l.shortcut, x)
            return self.act(self.node("Add", [self.add(l.body, x), short]), l.activation)
        if isinstance(l, nn.Concat):
            return self.node("Concat", [self.add(b, x) for b in l.branches], axis=1)
        if type(l) is nn.Conv2D:
            ph, pw = _pair(l.padding, "padding", "Conv2D")
            inputs = [x, self.const(_nchw_weights(l.params["W"]), "w")]
            if l.bias:
                inputs.append(self.const(l.params["b"], "b"))
            y = self.node("Conv", inputs, kernel_shape=list(l.kernel_size),
                          strides=list(l.stride), pads=[ph, pw, ph, pw],
                          dilations=list(l.dilation), group=l.groups)
            return self.act(y, l.activation)
        if isinstance(l, nn.BatchNorm2D):
            return self.node("BatchNormalization",
                             [x, self.const(l.params["gamma"], "g"),
                              self.const(l.params["beta"], "b"),
                              self.const(l.buffers["running_mean"], "m"),
                              self.const(l.buffers["running_var"], "v")], epsilon=l.eps)
        if isinstance(l, nn.Dense):
            inputs = [x, self.const(l.params["W"], "w")] + \
                ([self.const(l.params["b"], "b")] if "b" in l.params else [])
            return self.act(self.node("Gemm", inputs), l.activation)
        if isinstance(l, (nn.MaxPool2D, nn.AvgPool2D)):
            ph, pw = _pair(l.padding, "padding", type(l).__name__)
            op = "MaxPool" if isinstance(l, nn.MaxPool2D) else "AveragePool"
            return self.node(op, [x], kernel_shape=list(l.size), strides=list(l.stride),
                             pads=[ph, pw, ph, pw])
        if isinstance(l, nn.GlobalAvgPool2D):
            return self.node("Flatten", [self.node("GlobalAveragePool", [x])], axis=1)
        if isinstance(l, nn.Flatten):
            return self.node("Flatten", [self.node("Transpose", [x], perm=[0, 2, 3, 1])], axis=1)
        if isinstance(l, nn.Dropout):
            return x
        for name, cls in (("relu", nn.ReLU), ("sigmoid", nn.Sigmoid), ("tanh", nn.Tanh)):
            if isinstance(l, cls):
                return self.act(x, name)
        if isinstance(l, nn.LeakyReLU):
            return self.node("LeakyRelu", [x], alpha=l.alpha)
        raise ValueError(f"model_mirror: no ONNX mirror for {type(l).__name__}")


def to_onnx_session(layer, input_nchw_shape, threads):
    """An ONNX Runtime CPU session (opset 17, `threads` intra-op threads) running
    `layer` in inference on NCHW float32 input of the given shape."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper
    g = _Graph()
    out = g.add(layer, "x")
    n, c, h, w = input_nchw_shape
    out_shape = list(layer.output_shape((h, w, c)))
    if len(out_shape) == 3:            # a feature map: NHWC -> NCHW
        out_shape = [out_shape[2], out_shape[0], out_shape[1]]
    graph = helper.make_graph(
        g.nodes, "mirror",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_nchw_shape)],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, [n] + out_shape)],
        initializer=g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def check_agreement(out, reference, what):
    """Raise AssertionError unless a mirror's output (NCHW for feature maps)
    matches fastconv's (float32 through a whole network: relative to the
    largest output)."""
    out, reference = np.asarray(out, np.float64), np.asarray(reference, np.float64)
    if out.ndim == 4:              # the mirror's NCHW feature map
        out = out.transpose(0, 2, 3, 1)
    scale = max(float(np.max(np.abs(reference))), 1e-6)
    err = float(np.max(np.abs(out - reference))) / scale
    if out.shape != reference.shape or not err < 1e-3:
        raise AssertionError(f"{what} differs from fastconv: shapes {out.shape} vs "
                             f"{reference.shape}, max error {err:.2e} of the largest output")
