"""The parity suite: conv_transpose2d forward and backward (the upsampling
layers of DCGAN, U-Net and an FCN decoder), NHWC float32, fastconv vs the
NumPy reference vs PyTorch (channels_last), 1 and 2 threads; and NMS of 10 000
random boxes against the classic vectorised NumPy NMS (Fast R-CNN's
py_cpu_nms), one class and per class.

    pytest bench/test_bench_parity.py --benchmark-only
"""
import numpy as np
import pytest

import fastconv
from fastconv import detect
from fastconv import reference as ref
from conftest import rng, run
from test_bench_conv import torch_conv
from test_bench_detect import detector_like_boxes, numpy_nms

# name, N, H, W, C (in), K (out), kernel, stride, pad, output_padding
CASES = [
    ("dcgan-up-4to8", 16, 4, 4, 512, 256, 4, 2, 1, 0),
    ("dcgan-up-16to32", 16, 16, 16, 128, 64, 4, 2, 1, 0),
    ("unet-up-2x2", 4, 28, 28, 256, 128, 2, 2, 0, 0),
    ("fcn-up-3x3-op1", 4, 32, 32, 64, 32, 3, 2, 1, 1),
    ("deconv-3x3-s1", 8, 28, 28, 64, 64, 3, 1, 1, 0),
]
IMPLS = ["fastconv", "reference", "torch"]


def inputs(case):
    _, n, h, w, c, k, f, stride, pad, op = case
    g = rng()
    x = g.standard_normal((n, h, w, c), dtype=np.float32)
    wt = (g.standard_normal((f, f, k, c), dtype=np.float32) / np.sqrt(f * f * c)).astype(np.float32)
    return x, wt, dict(stride=stride, padding=pad, output_padding=op)


def flops(case):
    _, n, h, w, c, k, f, *_ = case
    return 2.0 * n * h * w * c * k * f * f


def torch_inputs(x, wt):
    # (R, S, K, C) -> PyTorch's (C, K, R, S): the same transposition as conv2d's weights
    return torch_conv(None, x, wt)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_conv_transpose_forward(benchmark, case, impl, threads):
    benchmark.group = f"convT-fwd {case[0]} {threads}t"
    x, wt, kw = inputs(case)
    if impl == "fastconv":
        run(benchmark, impl, lambda: fastconv.conv_transpose2d(x, wt, **kw), work=flops(case))
    elif impl == "reference":
        run(benchmark, impl, lambda: ref.conv_transpose2d(x, wt, **kw), slow=True)
    else:
        torch, xt, wt_t = torch_inputs(x, wt)
        with torch.no_grad():
            run(benchmark, impl, lambda: torch.nn.functional.conv_transpose2d(
                xt, wt_t, stride=kw["stride"], padding=kw["padding"],
                output_padding=kw["output_padding"]))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_conv_transpose_backward(benchmark, case, impl, threads):
    benchmark.group = f"convT-bwd {case[0]} {threads}t"
    x, wt, kw = inputs(case)
    dy = rng().standard_normal(fastconv.conv_transpose2d(x, wt, **kw).shape, dtype=np.float32)
    if impl == "fastconv":
        run(benchmark, impl, lambda: fastconv.conv_transpose2d_backward(dy, x, wt, **kw),
            work=2 * flops(case))
    elif impl == "reference":
        run(benchmark, impl, lambda: ref.conv_transpose2d_backward(dy, x, wt, **kw), slow=True)
    else:
        torch, xt, wt_t = torch_inputs(x, wt)
        xt = xt.detach().requires_grad_(True)
        wt_t = wt_t.detach().requires_grad_(True)
        bias = torch.zeros(wt.shape[2], requires_grad=True)
        dyt = torch.from_numpy(dy).permute(0, 3, 1, 2)
        y = torch.nn.functional.conv_transpose2d(xt, wt_t, bias, stride=kw["stride"],
                                                 padding=kw["padding"],
                                                 output_padding=kw["output_padding"])
        # backward only: the graph is kept, so each round reruns dx, dw and db
        run(benchmark, impl, lambda: torch.autograd.grad(y, (xt, wt_t, bias), dyt,
                                                         retain_graph=True))


def uniform_boxes(n, seed=1):
    g = np.random.default_rng(seed)
    xy = g.uniform(0, 1000, (n, 2))
    return np.concatenate([xy, xy + g.uniform(5, 50, (n, 2))], axis=1), g.random(n)


def numpy_nms_per_class(boxes, scores, classes, threshold):
    """The classic way: the classic NMS class by class, merged by score."""
    keep = np.concatenate([np.flatnonzero(classes == c)[numpy_nms(boxes[classes == c],
                                                                  scores[classes == c],
                                                                  threshold)]
                           for c in np.unique(classes)])
    return keep[np.argsort(-scores[keep], kind="stable")]


@pytest.mark.parametrize("impl", ["fastconv", "numpy"])
@pytest.mark.parametrize("kind", ["uniform", "detector"])
def test_nms_per_class_10000(benchmark, impl, kind):
    benchmark.group = f"nms 10000 {kind} boxes, 20 classes 1t"
    boxes, scores = uniform_boxes(10_000) if kind == "uniform" else \
        detector_like_boxes(10_000, np.random.default_rng(0))
    classes = np.random.default_rng(3).integers(0, 20, 10_000)
    if impl == "fastconv":
        run(benchmark, impl, lambda: detect.non_max_suppression(boxes, scores, 0.5,
                                                                classes=classes))
    else:
        run(benchmark, impl, lambda: numpy_nms_per_class(boxes, scores, classes, 0.5),
            slow=kind == "uniform")
