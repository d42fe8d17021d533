"""Pooling against the NumPy reference."""
import numpy as np
import pytest

import fastconv
from fastconv import reference as ref
from helpers import (CONV_CASES, DTYPES, LAYOUTS, POOL_CASES, assert_close, distinct_nchw,
                     pool_case_id, rand)


def pool_inputs(case, dtype, layout, rng):
    n, h, w, c, size, stride, padding = case
    x = rand(rng, (n, h, w, c), dtype)
    if layout == "NCHW":
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return x, dict(size=size, stride=stride, padding=padding, layout=layout)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES, ids=pool_case_id)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_forward_and_backward(kind, case, dtype, layout, rng):
    x, kw = pool_inputs(case, dtype, layout, rng)
    fwd = getattr(fastconv, f"{kind}_pool2d")
    bwd = getattr(fastconv, f"{kind}_pool2d_backward")
    y = fwd(x, **kw)
    assert_close(y, getattr(ref, f"{kind}_pool2d")(x, **kw), np.abs(x))
    dy = rand(rng, y.shape, dtype)
    dx = bwd(dy, x, **kw)
    assert_close(dx, getattr(ref, f"{kind}_pool2d_backward")(dy, x, **kw),
                 np.abs(dy) * 9)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_global_avg_pool(dtype, layout, rng):
    x = rand(rng, (3, 7, 5, 11), dtype)
    if layout == "NCHW":
        x = x.transpose(0, 3, 1, 2)          # non-contiguous on purpose
    y = fastconv.global_avg_pool2d(x, layout=layout)
    assert y.shape == (3, 11)
    assert_close(y, ref.global_avg_pool2d(x, layout=layout))
    assert fastconv.global_avg_pool2d(x[0], layout=layout).shape == (11,)


def test_layout_cases_tell_nchw_from_nhwc():
    # the NCHW tests prove something only where no two of N, H, W, C are equal
    # (the one exception: a 1x1 image, where H and W cannot differ)
    for case in POOL_CASES + [c for c in CONV_CASES if c[1:3] != (1, 1)]:
        assert distinct_nchw(case[:4]), case


def test_max_pool_ties_go_to_the_first_maximum():
    x = np.array([[2.0, 2.0, 1.0], [2.0, 0.0, 3.0], [3.0, 1.0, 3.0]])[None, :, :, None]
    dx = fastconv.max_pool2d_backward(np.ones((1, 2, 2, 1)), x, 2, 1)
    np.testing.assert_array_equal(dx[0, :, :, 0], [[1, 0, 0], [0, 0, 2], [1, 0, 0]])
    np.testing.assert_array_equal(dx, ref.max_pool2d_backward(np.ones((1, 2, 2, 1)), x, 2, 1))


def test_max_pool_propagates_nan():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    x[0, 1, 1, 0] = np.nan
    x[0, 3, 2, 0] = np.nan
    y = fastconv.max_pool2d(x, 2)
    np.testing.assert_array_equal(np.isnan(y[0, :, :, 0]), [[True, False], [False, True]])
    dx = fastconv.max_pool2d_backward(np.ones((1, 2, 2, 1), np.float32), x, 2)
    np.testing.assert_array_equal(dx, ref.max_pool2d_backward(np.ones((1, 2, 2, 1)), x, 2))


def test_avg_pool_counts_only_real_pixels():
    x = np.ones((1, 3, 3, 1))
    y = fastconv.avg_pool2d(x, 3, 1, padding=1)
    np.testing.assert_array_equal(y, np.ones((1, 3, 3, 1)))


def test_unbatched_and_strided_input(rng):
    base = rand(rng, (9, 10, 6), np.float64)
    x = base[::-1, 1:, ::2]
    y = fastconv.max_pool2d(x, 3, 2, padding=1)
    np.testing.assert_array_equal(y, ref.max_pool2d(x, 3, 2, padding=1))
    dy = rand(rng, y.shape, np.float64)
    np.testing.assert_allclose(fastconv.avg_pool2d_backward(dy, x, 3, 2, padding=1),
                               ref.avg_pool2d_backward(dy, x, 3, 2, padding=1), atol=1e-12)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_backward_of_tiling_windows_with_bottom_right_padding(kind, rng):
    """stride = size with padding only at the bottom/right ("same" on an odd
    size): the last windows hang over the input's edge, so the tiled backward
    path (each dx element written once) must not be taken; it wrote past dx."""
    x = rng.standard_normal((2, 7, 9, 16))
    for padding in ("same", ((0, 1), (0, 1))):
        y = getattr(fastconv, f"{kind}_pool2d")(x, 2, padding=padding)
        dy = rng.standard_normal(y.shape)
        got = getattr(fastconv, f"{kind}_pool2d_backward")(dy, x, 2, padding=padding)
        want = getattr(ref, f"{kind}_pool2d_backward")(dy, x, 2, padding=padding)
        assert_close(got, want)
