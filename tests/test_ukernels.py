"""Every registered GEMM micro-kernel this CPU can run (csrc/ukernels/registry.h),
on its edge tiles: m < MR, n < NR and k around the KC blocking, against NumPy.
fastconv.gemm only reaches the active kernel set's kernels; this reaches each."""
import numpy as np
import pytest

import fastconv
from fastconv import _config, _native
from helpers import assert_close

GEMM_KERNELS = [k for k in _native.ukernels() if k["kind"] == "gemm"]
DTYPE = {"f32": np.float32, "f64": np.float64}


def test_registry_covers_every_kernel_set():
    isas = {(k["kind"], k["dtype"], _config.ISA_NAMES[k["isa"]]) for k in _native.ukernels()}
    for kind in ("gemm", "conv"):
        for dtype in DTYPE:
            for isa in _config.ISAS:
                assert (kind, dtype, isa) in isas


@pytest.mark.parametrize("k", GEMM_KERNELS, ids=lambda k: k["name"])
def test_gemm_ukernel_edge_tiles(k, rng):
    if not k["supported"]:
        pytest.skip(f"this CPU cannot run {k['name']}")
    dtype = DTYPE[k["dtype"]]
    mr, nr, kc = k["mr"], k["nr"], k["kc"]
    # rows on both sides of the half-height twin's reach (edge_mr: AVX-512's 12-row tiles)
    half = k["edge_mr"] or mr // 2
    assert k["edge_mr"] in (0, mr // 2)
    for m in sorted({1, half, half + 1, mr - 1, mr + 1}):
        for n in sorted({1, nr - 1, nr + 1}):
            for depth in (1, kc - 1, kc + 1):
                a = rng.standard_normal((m, depth)).astype(dtype)
                b = rng.standard_normal((depth, n)).astype(dtype)
                # few rows: B is read in place (row-major) or packed (column-major)
                for b_layout in (b, np.asfortranarray(b)):
                    c = np.full((m, n), np.nan, dtype)       # beta = 0 must not read c
                    _native.gemm_with_ukernel(k["index"], a, b_layout, c, 1.0, 0.0)
                    assert_close(c, (a.astype(np.float64) @ b).astype(dtype),
                                 np.max(np.abs(a) @ np.abs(b)))
                c0 = rng.standard_normal((m, n)).astype(dtype)
                c = c0.copy()
                _native.gemm_with_ukernel(k["index"], a, b, c, -0.5, 2.0)
                want = (-0.5 * (a.astype(np.float64) @ b) + 2.0 * c0).astype(dtype)
                assert_close(c, want, np.max(np.abs(a) @ np.abs(b)) + 2 * np.max(np.abs(c0)))


def test_cache_blocks_are_derived_from_the_detected_caches():
    caches = _native.cpu_caches()
    assert caches["source"] in ("cpuid", "sysfs", "default")
    assert caches["l1d"] >= 4096 and caches["l2"] >= caches["l1d"]
    for k in GEMM_KERNELS:
        size = np.dtype(DTYPE[k["dtype"]]).itemsize
        assert k["mc"] % k["mr"] == 0 and k["nc"] % k["nr"] == 0 and k["kc"] % 16 == 0
        # an A micro-panel fills at most half of L1 and a B block read in place
        # half of L2, unless the block is at its floor (64 deep, one panel wide);
        # packed B blocks are at least as wide
        assert k["mr"] * k["kc"] * size <= caches["l1d"] // 2 or k["kc"] == 64, k
        assert k["kc"] * k["nc_direct"] * size <= caches["l2"] // 2 or k["nc_direct"] == k["nr"], k
        assert k["nc"] >= k["nc_direct"] and k["nc"] % k["nr"] == 0, k


def test_gemm_ukernel_rejects_other_dtypes_and_kinds():
    f32 = next(k for k in GEMM_KERNELS if k["dtype"] == "f32")
    a = np.ones((2, 2))
    with pytest.raises(ValueError, match="not a runnable GEMM kernel"):
        _native.gemm_with_ukernel(f32["index"], a, a, np.zeros((2, 2)), 1.0, 0.0)
    conv = next(k for k in _native.ukernels() if k["kind"] == "conv")
    with pytest.raises(ValueError, match="not a runnable GEMM kernel"):
        _native.gemm_with_ukernel(conv["index"], a, a, np.zeros((2, 2)), 1.0, 0.0)


def test_show_config_names_the_kernels_in_use():
    info = fastconv.show_config("dicts")
    isa = info["kernels"]
    titles = info["micro_kernels"]
    assert titles and all(t.endswith(isa) for t in titles)
    assert any(t.startswith("f32 gemm") for t in titles)
    assert any(t.startswith("f64 direct+winograd") for t in titles)
