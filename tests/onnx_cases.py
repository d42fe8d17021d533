"""ONNX's operator conformance cases (onnx.backend.test.case.node) run through
fastconv's public API (and through fastconv.reference, the same API in NumPy).

Each ONNX node is translated into one call of fastconv with layout="NCHW":
ONNX attributes become fastconv arguments, nothing is computed here that
fastconv is under test for.  The translations that are not one-to-one:

- auto_pad="SAME_UPPER" is padding="same" (TensorFlow's rule, the same one);
  "SAME_LOWER" puts the odd pixel on top/left, so it is passed as explicit pads.
- ConvTranspose's output_shape is turned into pads and output_padding, as the
  ONNX specification defines it (a negative end pad is extra output).
- MaxPool's second output (Indices) indexes the flattened N x C x H x W
  tensor, row-major or (storage_order=1) column-major within each plane;
  fastconv returns indices into each H x W plane, as PyTorch.
- BatchNormalization in training mode also outputs the running statistics,
  input * momentum + batch statistic * (1 - momentum): the running average is
  a layer's bookkeeping (nn.BatchNorm2D), not an operation; fastconv gives the
  batch statistics (in float64) and the update is written out here.
"""
import warnings

import numpy as np

# the ops of this suite, and those of them that slide over spatial axes
OPS = ("Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool",
       "GlobalMaxPool", "Gemm", "MatMul", "BatchNormalization", "Relu", "LeakyRelu",
       "Sigmoid", "Tanh", "Softmax")
SPATIAL = ("Conv", "ConvTranspose", "MaxPool", "AveragePool")


def load_cases():
    """The single-node cases of OPS: (name, op_type, attributes, inputs, outputs, rtol, atol)."""
    import onnx
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():       # cases of other ops warn while they are built
        warnings.simplefilter("ignore")
        collected = collect_testcases()
    cases = []
    for case in collected:
        nodes = case.model.graph.node
        if len(nodes) != 1 or nodes[0].op_type not in OPS:
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in nodes[0].attribute}
        for inputs, outputs in case.data_sets:
            cases.append((case.name, nodes[0].op_type, attrs, list(inputs), list(outputs),
                          case.rtol, case.atol))
    return cases


def out_of_scope(name, op_type):
    """Why a case is skipped: the 1-D and 3-D forms of the spatial ops, by name."""
    if op_type in SPATIAL and ("_1d" in name or "_3d" in name):
        return f"{name}: fastconv's {op_type} is two-dimensional"
    return None


def _text(value, default):
    return (value.decode() if isinstance(value, bytes) else value) if value is not None else default


def _pads(attrs, spatial, extent, stride):
    """fastconv's padding for ONNX's auto_pad / pads."""
    auto = _text(attrs.get("auto_pad"), "NOTSET")
    if auto == "VALID":
        return "valid"
    if auto == "SAME_UPPER":
        return "same"
    if auto == "SAME_LOWER":
        pads = []
        for n, k, s in zip(spatial, extent, stride):
            total = max((-(-n // s) - 1) * s + k - n, 0)
            pads.append((total - total // 2, total // 2))
        return tuple(pads)
    p = attrs.get("pads", [0, 0, 0, 0])
    return ((p[0], p[2]), (p[1], p[3]))


def _window(attrs, kernel):
    stride = tuple(attrs.get("strides", [1, 1]))
    dilation = tuple(attrs.get("dilations", [1, 1]))
    extent = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel))
    return stride, dilation, extent


def conv(lib, attrs, x, w, b=None):
    stride, dilation, extent = _window(attrs, w.shape[2:])
    return [lib.conv2d(x, w, b, stride=stride, padding=_pads(attrs, x.shape[2:], extent, stride),
                            dilation=dilation, groups=attrs.get("group", 1), layout="NCHW")]


def conv_transpose(lib, attrs, x, w, b=None):
    stride, dilation, extent = _window(attrs, w.shape[2:])
    output_padding = list(attrs.get("output_padding", [0, 0]))
    if "output_shape" in attrs:
        pads = []
        for i, (n, s, k, want) in enumerate(zip(x.shape[2:], stride, extent,
                                                attrs["output_shape"])):
            total = s * (n - 1) + output_padding[i] + k - want
            upper = _text(attrs.get("auto_pad"), "NOTSET") == "SAME_UPPER"
            begin = total // 2 if upper else total - total // 2
            end = total - begin
            if end < 0:                # a negative end pad is extra output
                output_padding[i] -= end
                end = 0
            pads.append((begin, end))
        padding = tuple(pads)
    else:
        padding = _pads(attrs, x.shape[2:], extent, stride)
    return [lib.conv_transpose2d(x, w, b, stride=stride, padding=padding,
                                      output_padding=tuple(output_padding), dilation=dilation,
                                      groups=attrs.get("group", 1), layout="NCHW")]


def _pool_kwargs(attrs, x):
    kernel = tuple(attrs["kernel_shape"])
    stride, dilation, extent = _window(attrs, kernel)
    return dict(size=kernel, stride=stride, padding=_pads(attrs, x.shape[2:], extent, stride),
                dilation=dilation, ceil_mode=bool(attrs.get("ceil_mode", 0)), layout="NCHW")


def max_pool(lib, attrs, x, want_indices):
    kw = _pool_kwargs(attrs, x)
    if not want_indices:
        return [lib.max_pool2d(x, **kw)]
    y, plane_index = lib.max_pool2d(x, **kw, return_indices=True)
    n, c, h, w = x.shape
    if attrs.get("storage_order", 0):          # column-major within each plane
        plane_index = (plane_index % w) * h + plane_index // w
    planes = (np.arange(n)[:, None] * c + np.arange(c)[None, :])[:, :, None, None]
    return [y, plane_index + planes * h * w]


def avg_pool(lib, attrs, x):
    return [lib.avg_pool2d(x, **_pool_kwargs(attrs, x),
                                count_include_pad=bool(attrs.get("count_include_pad", 0)))]


def batch_norm(lib, attrs, x, scale, bias, mean, var):
    eps = attrs.get("epsilon", 1e-5)
    if not attrs.get("training_mode", 0):
        return [lib.batch_norm(x, mean, var, scale, bias, eps=eps, layout="NCHW")]
    y, batch_mean, batch_var = lib.batch_norm_train(x, scale, bias, eps=eps, layout="NCHW")
    momentum = attrs.get("momentum", 0.9)
    # the statistics come back in float64; the running ones keep their inputs' dtype
    return [y, (mean * momentum + batch_mean * (1 - momentum)).astype(mean.dtype),
            (var * momentum + batch_var * (1 - momentum)).astype(var.dtype)]


def run(lib, op_type, attrs, inputs, n_outputs):
    """The outputs of one ONNX node by lib: fastconv or fastconv.reference."""
    x = inputs[0]
    if op_type == "Conv":
        return conv(lib, attrs, *inputs)
    if op_type == "ConvTranspose":
        return conv_transpose(lib, attrs, *inputs)
    if op_type == "MaxPool":
        return max_pool(lib, attrs, x, n_outputs == 2)
    if op_type == "AveragePool":
        return avg_pool(lib, attrs, x)
    if op_type in ("GlobalAveragePool", "GlobalMaxPool"):
        fn = lib.global_avg_pool2d if op_type == "GlobalAveragePool" else \
            lib.global_max_pool2d
        return [fn(x, layout="NCHW")[:, :, None, None]]
    if op_type == "Gemm":
        return [lib.gemm(x, inputs[1], inputs[2] if len(inputs) > 2 else None,
                              alpha=attrs.get("alpha", 1.0), beta=attrs.get("beta", 1.0),
                              trans_a=bool(attrs.get("transA", 0)),
                              trans_b=bool(attrs.get("transB", 0)))]
    if op_type == "MatMul":
        return [lib.matmul(x, inputs[1])]
    if op_type == "BatchNormalization":
        return batch_norm(lib, attrs, *inputs)
    if op_type == "LeakyRelu":
        return [lib.leaky_relu(x, attrs.get("alpha", 0.01))]
    if op_type == "Softmax":
        return [lib.softmax(x, axis=attrs.get("axis", -1))]
    return [{"Relu": lib.relu, "Sigmoid": lib.sigmoid, "Tanh": lib.tanh}[op_type](x)]
