"""The convolution suite (ten layers of LeNet-5, AlexNet, VGG, ResNet, Inception
and YOLO): forward and backward, NHWC float32, fastconv vs the NumPy reference
vs PyTorch (channels_last), 1 and 2 threads."""
import numpy as np
import pytest

import fastconv
from fastconv import reference as ref
from conftest import need_torch, rng, run

# name, N, H, W, C, K, kernel, stride, pad
CASES = [
    ("lenet5-c1", 32, 32, 32, 1, 6, 5, 1, 0),
    ("lenet5-c3", 32, 14, 14, 6, 16, 5, 1, 0),
    ("alexnet-c1", 8, 227, 227, 3, 96, 11, 4, 0),
    ("vgg-c2", 1, 112, 112, 128, 128, 3, 1, 1),
    ("resnet-3x3", 8, 56, 56, 64, 64, 3, 1, 1),
    ("resnet-1x1", 8, 56, 56, 256, 64, 1, 1, 0),
    ("resnet-c4-3x3", 8, 14, 14, 256, 256, 3, 1, 1),
    ("resnet-down", 8, 56, 56, 256, 512, 1, 2, 0),
    ("inception-5x5", 8, 28, 28, 16, 32, 5, 1, 2),
    ("yolo-3x3", 1, 13, 13, 512, 1024, 3, 1, 1),
]
IMPLS = ["fastconv", "reference", "torch"]


def inputs(case):
    _, n, h, w, c, k, f, stride, pad = case
    g = rng()
    x = g.standard_normal((n, h, w, c), dtype=np.float32)
    wt = (g.standard_normal((f, f, c, k), dtype=np.float32) / np.sqrt(f * f * c)).astype(np.float32)
    return x, wt, dict(stride=stride, padding=pad)


def flops(case):
    _, n, h, w, c, k, f, stride, pad = case
    ho = (h + 2 * pad - f) // stride + 1
    wo = (w + 2 * pad - f) // stride + 1
    return 2.0 * n * ho * wo * k * f * f * c


def torch_conv(case, x, wt):
    torch = need_torch()
    xt = torch.from_numpy(x).permute(0, 3, 1, 2)               # NCHW view of NHWC memory
    wt_t = torch.from_numpy(np.ascontiguousarray(wt.transpose(3, 2, 0, 1))).contiguous(
        memory_format=torch.channels_last)
    return torch, xt, wt_t


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_conv_forward(benchmark, case, impl, threads):
    benchmark.group = f"conv-fwd {case[0]} {threads}t"
    x, wt, kw = inputs(case)
    if impl == "fastconv":
        run(benchmark, impl, lambda: fastconv.conv2d(x, wt, **kw), work=flops(case))
    elif impl == "reference":
        run(benchmark, impl, lambda: ref.conv2d(x, wt, **kw), slow=True)
    else:
        torch, xt, wt_t = torch_conv(case, x, wt)
        with torch.no_grad():
            run(benchmark, impl, lambda: torch.nn.functional.conv2d(xt, wt_t, stride=kw["stride"],
                                                                    padding=kw["padding"]))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_conv_backward(benchmark, case, impl, threads):
    benchmark.group = f"conv-bwd {case[0]} {threads}t"
    x, wt, kw = inputs(case)
    dy = rng().standard_normal(fastconv.conv2d(x, wt, **kw).shape, dtype=np.float32)
    if impl == "fastconv":
        run(benchmark, impl, lambda: fastconv.conv2d_backward(dy, x, wt, **kw), work=2 * flops(case))
    elif impl == "reference":
        run(benchmark, impl, lambda: ref.conv2d_backward(dy, x, wt, **kw), slow=True)
    else:
        torch, xt, wt_t = torch_conv(case, x, wt)
        xt = xt.detach().requires_grad_(True)
        wt_t = wt_t.detach().requires_grad_(True)
        bias = torch.zeros(wt.shape[-1], requires_grad=True)
        dyt = torch.from_numpy(dy).permute(0, 3, 1, 2)

        y = torch.nn.functional.conv2d(xt, wt_t, bias, stride=kw["stride"], padding=kw["padding"])
        # backward only: the graph is kept, so each round reruns dx, dw and db
        run(benchmark, impl, lambda: torch.autograd.grad(y, (xt, wt_t, bias), dyt, retain_graph=True))
