"""GEMM suite: fastconv.matmul vs numpy.matmul (OpenBLAS) vs torch.matmul.
Unset OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE for this run if they are set; run
it again with FASTCONV_ISA=avx2 to compare the kernel sets."""
import numpy as np
import pytest

import fastconv
from conftest import need_torch, rng, run

# name, m, k, n
CASES = [(f"square-{n}", n, n, n) for n in (64, 128, 256, 512, 1024, 2048)] + [
    ("conv-25088x576x64", 25088, 576, 64),
    ("fc-64x4096x1000", 64, 4096, 1000),
    ("fc-8x2048x1000", 8, 2048, 1000),      # ResNet-50's classifier at batch 8
    ("fc-1x25088x4096", 1, 25088, 4096),    # VGG-16's fc6 at batch 1
    ("tall-skinny-20000x64x16", 20000, 64, 16),
    ("small-8x8x8", 8, 8, 8),
    ("small-16x16x16", 16, 16, 16),
    ("small-k-1024x8x1024", 1024, 8, 1024),
    ("small-n-4096x512x8", 4096, 512, 8),
    ("small-m-8x512x4096", 8, 512, 4096),
]
IMPLS = ["fastconv", "numpy", "torch"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_gemm(benchmark, case, impl, dtype, threads):
    name, m, k, n = case
    benchmark.group = f"gemm {name} {dtype} {threads}t"
    g = rng()
    a = g.standard_normal((m, k)).astype(dtype)
    b = g.standard_normal((k, n)).astype(dtype)
    if impl == "fastconv":
        run(benchmark, impl, lambda: fastconv.matmul(a, b), work=2 * m * n * k)
    elif impl == "numpy":
        from threadpoolctl import threadpool_limits
        with threadpool_limits(threads, user_api="blas"):
            run(benchmark, impl, lambda: np.matmul(a, b))
    else:
        torch = need_torch()
        at, bt = torch.from_numpy(a), torch.from_numpy(b)
        run(benchmark, impl, lambda: torch.matmul(at, bt))
