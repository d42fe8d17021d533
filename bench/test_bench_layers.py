"""The layer table: the distinct convolutions of ResNet-18/50, VGG-16, AlexNet,
GoogLeNet, MobileNetV1, ResNeXt-50 32x4d, YOLOv3-tiny and a DeepLab-style
dilated block (at most MAX_LAYERS shapes: the largest classes keep a spread),
plus a few in NCHW, at batch 1 and 8, forward and backward (dx, dw, db), 1 and
2 threads: fastconv (NHWC float32) vs PyTorch (channels_last) vs ONNX Runtime
(forward only, CPU provider, NCHW: its native layout; weights are initializers,
prepared when the session is made).  The NumPy reference is left out: too slow.
Peers are optional: their entries skip without them.  Besides the per-case
ratios, the summary prints a per-class table (best peer / fastconv).

pip install ".[bench]" torch==2.13.0 onnxruntime onnx
pytest bench/test_bench_layers.py --benchmark-only --benchmark-max-time=0.2 --benchmark-min-rounds=3
pytest bench/test_bench_layers.py --benchmark-only -k "1t and b1"            # a quick subset
pytest bench/test_bench_layers.py --benchmark-only -k "depthwise or NCHW"    # classes by name
"""
import functools
from typing import NamedTuple

import numpy as np
import pytest

import fastconv
from conftest import need_ort, need_torch, rng, run

BATCHES = [1, 8]
MAX_LAYERS = 80          # above this, each big class keeps a spread of its shapes


class Layer(NamedTuple):
    net: str
    name: str
    h: int
    w: int
    c: int
    k: int
    r: int
    s: int
    stride: int
    pad: int
    dilation: int
    groups: int
    layout: str = "NHWC"

    @property
    def id(self):
        return f"{self.net}.{self.name}" + ("-NCHW" if self.layout == "NCHW" else "")

    @property
    def out_hw(self):
        def extent(n, f):
            return (n + 2 * self.pad - self.dilation * (f - 1) - 1) // self.stride + 1
        return extent(self.h, self.r), extent(self.w, self.s)

    def flops(self, n):
        ho, wo = self.out_hw
        return 2.0 * n * ho * wo * self.k * self.r * self.s * self.c // self.groups


# GoogLeNet's Inception blocks (Szegedy et al. 2014, table 1): input map, input
# channels, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj
INCEPTION = [
    ("3a", 28, 192, 64, 96, 128, 16, 32, 32),
    ("3b", 28, 256, 128, 128, 192, 32, 96, 64),
    ("4a", 14, 480, 192, 96, 208, 16, 48, 64),
    ("4b", 14, 512, 160, 112, 224, 24, 64, 64),
    ("4c", 14, 512, 128, 128, 256, 24, 64, 64),
    ("4d", 14, 512, 112, 144, 288, 32, 64, 64),
    ("4e", 14, 528, 256, 160, 320, 32, 128, 128),
    ("5a", 7, 832, 256, 160, 320, 32, 128, 128),
    ("5b", 7, 832, 384, 192, 384, 48, 128, 128),
]


def inception_rows():
    for blk, hw, c, n1, r3, n3, r5, n5, proj in INCEPTION:
        yield ("googlenet", f"{blk}.1x1", hw, hw, c, n1, 1, 1, 1, 0, 1, 1)
        yield ("googlenet", f"{blk}.3x3red", hw, hw, c, r3, 1, 1, 1, 0, 1, 1)
        yield ("googlenet", f"{blk}.3x3", hw, hw, r3, n3, 3, 3, 1, 1, 1, 1)
        yield ("googlenet", f"{blk}.5x5red", hw, hw, c, r5, 1, 1, 1, 0, 1, 1)
        yield ("googlenet", f"{blk}.5x5", hw, hw, r5, n5, 5, 5, 1, 2, 1, 1)
        yield ("googlenet", f"{blk}.proj", hw, hw, c, proj, 1, 1, 1, 0, 1, 1)


# Each network's distinct convolutions; shapes repeated across networks are
# dropped below (the first name stays).  ResNets are v1.5 (stride on the 3x3).
TABLE = [
    # net        layer                  H    W     C     K  R  S str pad dil grp
    ("resnet18", "conv1",             224, 224,    3,   64, 7, 7, 2, 3, 1, 1),
    ("resnet18", "layer1.conv",        56,  56,   64,   64, 3, 3, 1, 1, 1, 1),
    ("resnet18", "layer2.0.conv1",     56,  56,   64,  128, 3, 3, 2, 1, 1, 1),
    ("resnet18", "layer2.conv",        28,  28,  128,  128, 3, 3, 1, 1, 1, 1),
    ("resnet18", "layer2.0.down",      56,  56,   64,  128, 1, 1, 2, 0, 1, 1),
    ("resnet18", "layer3.0.conv1",     28,  28,  128,  256, 3, 3, 2, 1, 1, 1),
    ("resnet18", "layer3.conv",        14,  14,  256,  256, 3, 3, 1, 1, 1, 1),
    ("resnet18", "layer3.0.down",      28,  28,  128,  256, 1, 1, 2, 0, 1, 1),
    ("resnet18", "layer4.0.conv1",     14,  14,  256,  512, 3, 3, 2, 1, 1, 1),
    ("resnet18", "layer4.conv",         7,   7,  512,  512, 3, 3, 1, 1, 1, 1),
    ("resnet18", "layer4.0.down",      14,  14,  256,  512, 1, 1, 2, 0, 1, 1),

    ("resnet50", "conv1",             224, 224,    3,   64, 7, 7, 2, 3, 1, 1),
    ("resnet50", "layer1.0.conv1",     56,  56,   64,   64, 1, 1, 1, 0, 1, 1),
    ("resnet50", "layer1.conv2",       56,  56,   64,   64, 3, 3, 1, 1, 1, 1),
    ("resnet50", "layer1.conv3",       56,  56,   64,  256, 1, 1, 1, 0, 1, 1),   # = layer1.0.down
    ("resnet50", "layer1.1.conv1",     56,  56,  256,   64, 1, 1, 1, 0, 1, 1),
    ("resnet50", "layer2.0.conv1",     56,  56,  256,  128, 1, 1, 1, 0, 1, 1),
    ("resnet50", "layer2.0.conv2",     56,  56,  128,  128, 3, 3, 2, 1, 1, 1),
    ("resnet50", "layer2.conv2",       28,  28,  128,  128, 3, 3, 1, 1, 1, 1),
    ("resnet50", "layer2.conv3",       28,  28,  128,  512, 1, 1, 1, 0, 1, 1),
    ("resnet50", "layer2.0.down",      56,  56,  256,  512, 1, 1, 2, 0, 1, 1),
    ("resnet50", "layer2.1.conv1",     28,  28,  512,  128, 1, 1, 1, 0, 1, 1),
    ("resnet50", "layer3.0.conv1",     28,  28,  512,  256, 1, 1, 1, 0, 1, 1),
    ("resnet50", "layer3.0.conv2",     28,  28,  256,  256, 3, 3, 2, 1, 1, 1),
    ("resnet50", "layer3.conv2",       14,  14,  256,  256, 3, 3, 1, 1, 1, 1),
    ("resnet50", "layer3.conv3",       14,  14,  256, 1024, 1, 1, 1, 0, 1, 1),
    ("resnet50", "layer3.0.down",      28,  28,  512, 1024, 1, 1, 2, 0, 1, 1),
    ("resnet50", "layer3.1.conv1",     14,  14, 1024,  256, 1, 1, 1, 0, 1, 1),
    ("resnet50", "layer4.0.conv1",     14,  14, 1024,  512, 1, 1, 1, 0, 1, 1),
    ("resnet50", "layer4.0.conv2",     14,  14,  512,  512, 3, 3, 2, 1, 1, 1),
    ("resnet50", "layer4.conv2",        7,   7,  512,  512, 3, 3, 1, 1, 1, 1),
    ("resnet50", "layer4.conv3",        7,   7,  512, 2048, 1, 1, 1, 0, 1, 1),
    ("resnet50", "layer4.0.down",      14,  14, 1024, 2048, 1, 1, 2, 0, 1, 1),
    ("resnet50", "layer4.1.conv1",      7,   7, 2048,  512, 1, 1, 1, 0, 1, 1),

    ("vgg16", "conv1_1",              224, 224,    3,   64, 3, 3, 1, 1, 1, 1),
    ("vgg16", "conv1_2",              224, 224,   64,   64, 3, 3, 1, 1, 1, 1),
    ("vgg16", "conv2_1",              112, 112,   64,  128, 3, 3, 1, 1, 1, 1),
    ("vgg16", "conv2_2",              112, 112,  128,  128, 3, 3, 1, 1, 1, 1),
    ("vgg16", "conv3_1",               56,  56,  128,  256, 3, 3, 1, 1, 1, 1),
    ("vgg16", "conv3_2",               56,  56,  256,  256, 3, 3, 1, 1, 1, 1),   # = conv3_3
    ("vgg16", "conv4_1",               28,  28,  256,  512, 3, 3, 1, 1, 1, 1),
    ("vgg16", "conv4_2",               28,  28,  512,  512, 3, 3, 1, 1, 1, 1),   # = conv4_3
    ("vgg16", "conv5",                 14,  14,  512,  512, 3, 3, 1, 1, 1, 1),   # conv5_1..3

    ("alexnet", "conv1",              227, 227,    3,   96, 11, 11, 4, 0, 1, 1),
    ("alexnet", "conv2",               27,  27,   96,  256, 5, 5, 1, 2, 1, 1),
    ("alexnet", "conv3",               13,  13,  256,  384, 3, 3, 1, 1, 1, 1),
    ("alexnet", "conv4",               13,  13,  384,  384, 3, 3, 1, 1, 1, 1),
    ("alexnet", "conv5",               13,  13,  384,  256, 3, 3, 1, 1, 1, 1),

    ("googlenet", "conv1",            224, 224,    3,   64, 7, 7, 2, 3, 1, 1),
    ("googlenet", "conv2",             56,  56,   64,   64, 1, 1, 1, 0, 1, 1),
    ("googlenet", "conv3",             56,  56,   64,  192, 3, 3, 1, 1, 1, 1),
    *inception_rows(),

    ("mobilenetv1", "conv1",          224, 224,    3,   32, 3, 3, 2, 1, 1, 1),
    ("mobilenetv1", "dw1",            112, 112,   32,   32, 3, 3, 1, 1, 1, 32),
    ("mobilenetv1", "pw1",            112, 112,   32,   64, 1, 1, 1, 0, 1, 1),
    ("mobilenetv1", "dw2",            112, 112,   64,   64, 3, 3, 2, 1, 1, 64),
    ("mobilenetv1", "pw2",             56,  56,   64,  128, 1, 1, 1, 0, 1, 1),
    ("mobilenetv1", "dw3",             56,  56,  128,  128, 3, 3, 1, 1, 1, 128),
    ("mobilenetv1", "pw3",             56,  56,  128,  128, 1, 1, 1, 0, 1, 1),
    ("mobilenetv1", "dw4",             56,  56,  128,  128, 3, 3, 2, 1, 1, 128),
    ("mobilenetv1", "pw4",             28,  28,  128,  256, 1, 1, 1, 0, 1, 1),
    ("mobilenetv1", "dw5",             28,  28,  256,  256, 3, 3, 1, 1, 1, 256),
    ("mobilenetv1", "pw5",             28,  28,  256,  256, 1, 1, 1, 0, 1, 1),
    ("mobilenetv1", "dw6",             28,  28,  256,  256, 3, 3, 2, 1, 1, 256),
    ("mobilenetv1", "pw6",             14,  14,  256,  512, 1, 1, 1, 0, 1, 1),
    ("mobilenetv1", "dw7",             14,  14,  512,  512, 3, 3, 1, 1, 1, 512),   # dw7..dw11
    ("mobilenetv1", "pw7",             14,  14,  512,  512, 1, 1, 1, 0, 1, 1),     # pw7..pw11
    ("mobilenetv1", "dw12",            14,  14,  512,  512, 3, 3, 2, 1, 1, 512),
    ("mobilenetv1", "pw12",             7,   7,  512, 1024, 1, 1, 1, 0, 1, 1),
    ("mobilenetv1", "dw13",             7,   7, 1024, 1024, 3, 3, 1, 1, 1, 1024),
    ("mobilenetv1", "pw13",             7,   7, 1024, 1024, 1, 1, 1, 0, 1, 1),

    ("resnext50", "layer1.conv2",      56,  56,  128,  128, 3, 3, 1, 1, 1, 32),
    ("resnext50", "layer2.0.conv2",    56,  56,  256,  256, 3, 3, 2, 1, 1, 32),
    ("resnext50", "layer2.conv2",      28,  28,  256,  256, 3, 3, 1, 1, 1, 32),
    ("resnext50", "layer3.0.conv2",    28,  28,  512,  512, 3, 3, 2, 1, 1, 32),
    ("resnext50", "layer3.conv2",      14,  14,  512,  512, 3, 3, 1, 1, 1, 32),
    ("resnext50", "layer4.0.conv2",    14,  14, 1024, 1024, 3, 3, 2, 1, 1, 32),
    ("resnext50", "layer4.conv2",       7,   7, 1024, 1024, 3, 3, 1, 1, 1, 32),

    ("yolov3tiny", "conv0",           416, 416,    3,   16, 3, 3, 1, 1, 1, 1),
    ("yolov3tiny", "conv2",           208, 208,   16,   32, 3, 3, 1, 1, 1, 1),
    ("yolov3tiny", "conv4",           104, 104,   32,   64, 3, 3, 1, 1, 1, 1),
    ("yolov3tiny", "conv6",            52,  52,   64,  128, 3, 3, 1, 1, 1, 1),
    ("yolov3tiny", "conv8",            26,  26,  128,  256, 3, 3, 1, 1, 1, 1),
    ("yolov3tiny", "conv10",           13,  13,  256,  512, 3, 3, 1, 1, 1, 1),   # = conv14
    ("yolov3tiny", "conv12",           13,  13,  512, 1024, 3, 3, 1, 1, 1, 1),
    ("yolov3tiny", "conv13",           13,  13, 1024,  256, 1, 1, 1, 0, 1, 1),
    ("yolov3tiny", "conv15",           13,  13,  512,  255, 1, 1, 1, 0, 1, 1),
    ("yolov3tiny", "conv18",           13,  13,  256,  128, 1, 1, 1, 0, 1, 1),
    ("yolov3tiny", "conv21",           26,  26,  384,  256, 3, 3, 1, 1, 1, 1),
    ("yolov3tiny", "conv22",           26,  26,  256,  255, 1, 1, 1, 0, 1, 1),

    ("deeplab", "aspp.d2",             64,  64,  256,  256, 3, 3, 1, 2, 2, 1),
    ("deeplab", "aspp.d4",             64,  64,  256,  256, 3, 3, 1, 4, 4, 1),
]

# a few layers again with layout="NCHW", on contiguous NCHW arrays (torch too)
NCHW_LAYERS = [("resnet18", "layer1.conv"), ("resnet50", "layer1.1.conv1"), ("mobilenetv1", "dw3")]

CLASSES = ["stem", "3x3 s1", "3x3 s2", "1x1 s1", "1x1 s2", "5x5", "7x7", "11x11",
           "dilated", "depthwise", "grouped", "NCHW"]


def layer_class(layer):
    if layer.layout == "NCHW":
        return "NCHW"
    if layer.c <= 4:
        return "stem"
    if layer.groups > 1:
        return "depthwise" if layer.groups == layer.c == layer.k else "grouped"
    if layer.dilation > 1:
        return "dilated"
    if layer.r in (1, 3):
        return f"{layer.r}x{layer.s} s{layer.stride}"
    return f"{layer.r}x{layer.s}"


def spread(layers, count):
    """count of layers, evenly spaced in flops from the smallest to the largest."""
    if count >= len(layers):
        return layers
    by_flops = sorted(layers, key=lambda l: l.flops(1))
    picks = {by_flops[round(i * (len(layers) - 1) / max(count - 1, 1))] for i in range(count)}
    return [l for l in layers if l in picks]


def select_layers(rows, nchw, limit):
    """The distinct shapes of rows (first name kept), the nchw ones again in NCHW;
    above limit, the largest classes are cut to a common size (spread in flops)."""
    distinct = {}
    for row in rows:
        layer = Layer(*row)
        distinct.setdefault(layer[2:], layer)
    layers = list(distinct.values())
    layers += [l._replace(layout="NCHW") for l in layers if (l.net, l.name) in nchw]
    per_class = {}
    for layer in layers:
        per_class.setdefault(layer_class(layer), []).append(layer)
    cap = max(len(v) for v in per_class.values())
    while sum(min(len(v), cap) for v in per_class.values()) > limit:
        cap -= 1
    kept = {l for v in per_class.values() for l in spread(v, cap)}
    return [l for l in layers if l in kept]


LAYERS = select_layers(TABLE, NCHW_LAYERS, MAX_LAYERS)
LAYER_IDS = [f"{layer_class(l).replace(' ', '')}:{l.id}" for l in LAYERS]


def arrays(layer, n):
    """x, w, b in the layer's layout: NHWC x (N, H, W, C), w (R, S, C/g, K);
    NCHW x (N, C, H, W), w (K, C/g, R, S).  The weights do not depend on n."""
    g = rng()
    fan_in = layer.r * layer.s * layer.c // layer.groups
    w = (g.standard_normal((layer.r, layer.s, layer.c // layer.groups, layer.k), dtype=np.float32)
         / np.float32(np.sqrt(fan_in)))
    b = g.standard_normal(layer.k, dtype=np.float32) * np.float32(0.1)
    x = g.standard_normal((n, layer.h, layer.w, layer.c), dtype=np.float32)
    if layer.layout == "NCHW":
        return nchw(x), np.ascontiguousarray(w.transpose(3, 2, 0, 1)), b
    return x, w, b


def nchw(a):
    return np.ascontiguousarray(a.transpose(0, 3, 1, 2))


def geometry(layer):
    return dict(stride=layer.stride, padding=layer.pad, dilation=layer.dilation,
                groups=layer.groups)


def torch_tensors(layer, *arrays_):
    """x-like arrays (x, dy) as torch tensors: NHWC ones as the channels_last view
    of their memory, NCHW ones as they are."""
    torch = need_torch()
    if layer.layout == "NCHW":
        return torch, [torch.from_numpy(a) for a in arrays_]
    return torch, [torch.from_numpy(a).permute(0, 3, 1, 2) for a in arrays_]


def torch_weight(torch, layer, w):
    if layer.layout == "NCHW":
        return torch.from_numpy(w)
    return torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1))).contiguous(
        memory_format=torch.channels_last)


@functools.lru_cache(maxsize=4)
def ort_session(layer, n, threads):
    """A one-node ONNX Conv model (opset 17, NCHW, weights and bias as
    initializers) in a CPU session with `threads` intra-op threads."""
    onnx, ort = need_ort()
    from onnx import TensorProto, helper, numpy_helper
    _, w, b = arrays(layer._replace(layout="NCHW"), 0)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[layer.r, layer.s],
                            strides=[layer.stride] * 2, pads=[layer.pad] * 4,
                            dilations=[layer.dilation] * 2, group=layer.groups)
    graph = helper.make_graph(
        [node], layer.id,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, layer.c, layer.h, layer.w])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, layer.k, *layer.out_hw])],
        initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8                  # opset 17's IR version, which every ORT since 1.13 reads
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def label(benchmark, direction, layer, n, threads):
    benchmark.group = f"layer-{direction} {layer.id} b{n} {threads}t"
    cls = layer_class(layer)
    benchmark.extra_info.update(layer_class=cls, class_rank=CLASSES.index(cls), direction=direction,
                                threads=threads)


@pytest.mark.parametrize("impl", ["fastconv", "torch", "ort"])
@pytest.mark.parametrize("n", BATCHES, ids=lambda n: f"b{n}")
@pytest.mark.parametrize("layer", LAYERS, ids=LAYER_IDS)
def test_layer_forward(benchmark, layer, n, impl, threads):
    label(benchmark, "fwd", layer, n, threads)
    x, w, b = arrays(layer, n)
    kw = dict(layout=layer.layout, **geometry(layer))
    if impl == "fastconv":
        run(benchmark, impl, lambda: fastconv.conv2d(x, w, b, **kw), work=layer.flops(n))
    elif impl == "torch":
        torch, (xt,) = torch_tensors(layer, x)
        wt, bt = torch_weight(torch, layer, w), torch.from_numpy(b)
        with torch.no_grad():
            run(benchmark, impl, lambda: torch.nn.functional.conv2d(xt, wt, bt, **geometry(layer)))
    else:
        session = ort_session(layer, n, threads)
        feed = {"x": x if layer.layout == "NCHW" else nchw(x)}
        run(benchmark, impl, lambda: session.run(None, feed))


@pytest.mark.parametrize("impl", ["fastconv", "torch"])
@pytest.mark.parametrize("n", BATCHES, ids=lambda n: f"b{n}")
@pytest.mark.parametrize("layer", LAYERS, ids=LAYER_IDS)
def test_layer_backward(benchmark, layer, n, impl, threads):
    label(benchmark, "bwd", layer, n, threads)
    x, w, b = arrays(layer, n)
    kw = dict(layout=layer.layout, **geometry(layer))
    dy = rng().standard_normal(fastconv.conv2d(x, w, **kw).shape, dtype=np.float32)
    if impl == "fastconv":
        run(benchmark, impl, lambda: fastconv.conv2d_backward(dy, x, w, **kw),
            work=2 * layer.flops(n))
    else:
        torch, (xt, dyt) = torch_tensors(layer, x, dy)
        xt = xt.detach().requires_grad_(True)
        wt = torch_weight(torch, layer, w).requires_grad_(True)
        bt = torch.from_numpy(b).requires_grad_(True)
        y = torch.nn.functional.conv2d(xt, wt, bt, **geometry(layer))
        # backward only: the graph is kept, so each round reruns dx, dw and db
        run(benchmark, impl, lambda: torch.autograd.grad(y, (xt, wt, bt), dyt, retain_graph=True))
