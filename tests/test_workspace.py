"""The kernels' workspace accounting (the counting allocator behind the
benchmarks' memory column): nothing leaks, and the convolution workspace is
bounded independently of the batch size."""
import numpy as np
import pytest

import fastconv
from fastconv import _native
from fastconv._config import peak_workspace
from helpers import rand, requires_openmp, threads

MiB = 2 ** 20


def conv_calls(n, algorithm, rng):
    """A forward and a backward call of a 3x3 convolution on n images."""
    x = rand(rng, (n, 12, 12, 6), np.float32)
    w = rand(rng, (3, 3, 6, 8), np.float32)
    dy = rand(rng, (n, 12, 12, 8), np.float32)
    return [lambda: fastconv.conv2d(x, w, padding=1, algorithm=algorithm),
            lambda: fastconv.conv2d_backward(dy, x, w, padding=1, algorithm=algorithm)]


def test_every_op_releases_its_workspace(rng):
    before = _native.workspace_in_use()
    a, b = rand(rng, (300, 200), np.float32), rand(rng, (200, 100), np.float32)
    x = rand(rng, (2, 9, 9, 4), np.float64)
    fastconv.matmul(a, b)
    fastconv.max_pool2d_backward(rand(rng, (2, 4, 4, 4), np.float64), x, 3, 2)
    for algorithm in ("gemm", "direct"):
        for call in conv_calls(3, algorithm, rng):
            call()
    assert _native.workspace_in_use() == before


@pytest.mark.parametrize("algorithm", ["gemm", "direct"])
def test_conv_workspace_is_counted(algorithm, rng):
    for call in conv_calls(2, algorithm, rng):
        _, peak = peak_workspace(call)
        assert 0 < peak < 16 * MiB


@pytest.mark.parametrize("nthreads", [1, pytest.param(2, marks=requires_openmp)],
                         ids=["1-thread", "2-threads"])
@pytest.mark.parametrize("algorithm", ["gemm", "direct"])
def test_conv_workspace_does_not_grow_with_the_batch(algorithm, nthreads, rng):
    with threads(nthreads):
        for small, large in zip(conv_calls(16, algorithm, rng), conv_calls(128, algorithm, rng)):
            _, peak_small = peak_workspace(small)
            _, peak_large = peak_workspace(large)
            # the bias gradient keeps one double per channel per 1024 pixels
            assert peak_large <= peak_small + 8 * 8 * 128 * 144 // 1024 + 4096
