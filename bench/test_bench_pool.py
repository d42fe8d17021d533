"""The pooling suite (max 2x2/2 and 3x3/2, average 2x2/2 and 3x3/2, global average): fastconv vs reference vs PyTorch channels_last."""
import numpy as np
import pytest

import fastconv
from fastconv import reference as ref
from conftest import need_torch, rng, run

# name, kind, shape (NHWC), size, stride, pad
CASES = [
    ("max2x2", "max", (8, 112, 112, 64), 2, 2, 0),
    ("max3x3s2", "max", (8, 112, 112, 64), 3, 2, 1),
    ("avg2x2", "avg", (32, 28, 28, 6), 2, 2, 0),
    ("avg-2s2-large", "avg", (8, 112, 112, 64), 2, 2, 0),
    ("avg-3s2-large", "avg", (8, 112, 112, 64), 3, 2, 1),
    ("gap", "gap", (8, 7, 7, 2048), None, None, None),
]
IMPLS = ["fastconv", "reference", "torch"]


def torch_fn(kind, size, stride, pad, backward):
    torch = need_torch()
    F = torch.nn.functional
    if kind == "max":
        return lambda t: F.max_pool2d(t, size, stride, pad)
    if kind == "avg":
        return lambda t: F.avg_pool2d(t, size, stride, pad, count_include_pad=False)
    return lambda t: t.mean(dim=(2, 3))


@pytest.mark.parametrize("direction", ["fwd", "bwd"])
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_pool(benchmark, case, impl, direction, threads):
    name, kind, shape, size, stride, pad = case
    if kind == "gap" and direction == "bwd":
        pytest.skip("global average pooling has no backward function in the API")
    benchmark.group = f"pool-{direction} {name} {threads}t"
    x = rng().standard_normal(shape, dtype=np.float32)
    nbytes = x.nbytes
    if kind == "gap":
        fwd = {"fastconv": lambda: fastconv.global_avg_pool2d(x),
               "reference": lambda: ref.global_avg_pool2d(x)}
    else:
        args = (size, stride, pad)
        y = getattr(fastconv, f"{kind}_pool2d")(x, *args)
        dy = rng().standard_normal(y.shape, dtype=np.float32)
        nbytes += y.nbytes
        if direction == "bwd":
            nbytes = 2 * x.nbytes + y.nbytes
        lib = {"fastconv": fastconv, "reference": ref}
        fwd = {k: (lambda m=m: getattr(m, f"{kind}_pool2d")(x, *args)) for k, m in lib.items()}
        bwd = {k: (lambda m=m: getattr(m, f"{kind}_pool2d_backward")(dy, x, *args)) for k, m in lib.items()}
    if impl == "torch":
        torch = need_torch()
        f = torch_fn(kind, size, stride, pad, direction == "bwd")
        xt = torch.from_numpy(x).permute(0, 3, 1, 2)
        if direction == "fwd":
            with torch.no_grad():
                run(benchmark, impl, lambda: f(xt))
        else:
            xt = xt.detach().requires_grad_(True)
            yt = f(xt)
            dyt = torch.from_numpy(dy).permute(0, 3, 1, 2)
            run(benchmark, impl, lambda: torch.autograd.grad(yt, xt, dyt, retain_graph=True))
        return
    table = fwd if direction == "fwd" else bwd
    run(benchmark, impl, table[impl], slow=impl == "reference", work=nbytes if impl == "fastconv" else None,
        unit="GB/s")
