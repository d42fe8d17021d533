"""Pooling against the NumPy reference."""
import numpy as np
import pytest

import fastconv
from fastconv import reference as ref
from helpers import (CONV_CASES, DTYPES, LAYOUTS, POOL_CASES, POOL_OPTION_CASES, assert_close,
                     distinct_nchw, pool_case_id, pool_option_id, pool_option_kwargs, rand,
                     same_bits_on_1_and_2_threads)


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
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_writes_into_out(kind, layout, rng):
    """out= as conv2d's: written in place and returned; a strided out, or one
    overlapping x, gets the same values; a wrong one is refused by name."""
    x, kw = pool_inputs((2, 9, 8, 5, 3, 2, 1), np.float32, layout, rng)
    fwd = getattr(fastconv, f"{kind}_pool2d")
    want = fwd(x, **kw)
    out = np.full_like(want, np.nan)
    assert fwd(x, out=out, **kw) is out and np.array_equal(out, want)
    strided = np.full(want.shape[:-1] + (2 * want.shape[-1],), np.nan, np.float32)[..., ::2]
    assert fwd(x, out=strided, **kw) is strided and np.array_equal(strided, want)
    if layout == "NHWC":   # a channel slice of a bigger array: written in place
        big = np.full(want.shape[:-1] + (want.shape[-1] + 5,), np.nan, np.float32)
        part = big[..., 2:2 + want.shape[-1]]
        assert fwd(x, out=part, **kw) is part and np.array_equal(part, want)
        assert np.isnan(big[..., :2]).all() and np.isnan(big[..., 2 + want.shape[-1]:]).all()
    with pytest.raises(ValueError, match="out has shape"):
        fwd(x, out=np.empty(want.shape[:-1] + (want.shape[-1] + 1,), np.float32), **kw)
    with pytest.raises(TypeError, match="out has dtype"):
        fwd(x, out=np.empty(want.shape, np.float64), **kw)


@pytest.mark.parametrize("shape", [
    (3, 7, 5, 11),       # channels past the vector blocks only
    (2, 9, 10, 1100),    # 90 pixels: two chunks; two blocks of 512 channels and a partial one
    (1, 3, 3, 520),      # one image: its blocks of channels go to the threads
])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_global_avg_pool(shape, dtype, layout, rng):
    x = rand(rng, shape, dtype) + 3   # an offset: the sums' rounding shows
    if layout == "NCHW":
        x = x.transpose(0, 3, 1, 2)          # non-contiguous on purpose
    y = same_bits_on_1_and_2_threads(lambda: fastconv.global_avg_pool2d(x, layout=layout))
    assert y.shape == (shape[0], shape[3])
    assert_close(y, ref.global_avg_pool2d(x, layout=layout))
    assert fastconv.global_avg_pool2d(x[0], layout=layout).shape == (shape[3],)


def test_layout_cases_tell_nchw_from_nhwc():
    # the NCHW tests prove something only where no two of N, H, W, C are equal
    # (the one exception: a 1x1 image, where H and W cannot differ)
    for case in POOL_CASES + POOL_OPTION_CASES + [c for c in CONV_CASES if c[1:3] != (1, 1)]:
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


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_OPTION_CASES, ids=pool_option_id)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_options_forward_and_backward(kind, case, dtype, layout, rng):
    x = rand(rng, case[:4], dtype)
    if layout == "NCHW":
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    kw = dict(pool_option_kwargs(kind, case), layout=layout)
    y = getattr(fastconv, f"{kind}_pool2d")(x, **kw)
    assert_close(y, getattr(ref, f"{kind}_pool2d")(x, **kw), np.abs(x))
    dy = rand(rng, y.shape, dtype)
    dx = getattr(fastconv, f"{kind}_pool2d_backward")(dy, x, **kw)
    assert_close(dx, getattr(ref, f"{kind}_pool2d_backward")(dy, x, **kw), np.abs(dy) * 9)


# The ISA pixel kernels (undilated windows up to 3x3, NHWC): 85 channels fill
# blocks of four vectors, single vectors and a scalar tail at every vector width.
FAST_CASES = [
    (2, 13, 11, 85, 2, 2, 0, False, False),              # odd rows and columns past the tiles
    (2, 13, 12, 85, 3, 2, 1, False, False),
    (1, 13, 14, 85, 3, 2, 0, True, False),               # ceil: a last partial window
    (1, 11, 12, 85, 3, 2, 1, True, True),                # ceil + count_include_pad
    (1, 9, 10, 85, 3, 1, 1, False, True),                # GoogLeNet's 3x3/1
    (2, 9, 11, 85, 2, 2, "same", False, False),          # windows past the bottom/right
    (1, 10, 11, 85, (2, 3), (1, 2), ((1, 0), (0, 1)), False, True),
    (1, 9, 13, 85, 2, 3, 0, False, False),               # stride > size: uncovered pixels
    (3, 8, 7, 16, 3, 2, 1, False, False),                # one vector exactly (f32 AVX-512)
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", FAST_CASES, ids=lambda c: "-".join(map(str, c)).replace(" ", ""))
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_pixel_kernels_forward_and_backward(kind, case, dtype, rng):
    *shape, size, stride, padding, ceil_mode, count_include_pad = case
    x = rand(rng, shape, dtype)
    kw = dict(size=size, stride=stride, padding=padding, ceil_mode=ceil_mode)
    if kind == "avg":
        kw["count_include_pad"] = count_include_pad
    else:     # ties and NaN in some windows
        x[0, 1, :4] = 0.5
        x[:, 3, 5, ::7] = np.nan
    y = getattr(fastconv, f"{kind}_pool2d")(x, **kw)
    assert_close(y, getattr(ref, f"{kind}_pool2d")(x, **kw), np.abs(x[np.isfinite(x)]))
    dy = rand(rng, y.shape, dtype)
    dx = getattr(fastconv, f"{kind}_pool2d_backward")(dy, x, **kw)
    assert_close(dx, getattr(ref, f"{kind}_pool2d_backward")(dy, x, **kw), np.abs(dy) * 9)


def test_ceil_mode_sizes_follow_pytorch():
    # 7 rows, window 3, stride 2, pad 1: floor gives 4 windows, ceil 4 as well
    # (a fifth would start in the padding); 6 rows without padding: 2 and 3
    x = np.zeros((1, 7, 6, 1))
    assert fastconv.max_pool2d(x, 3, 2, 1, ceil_mode=True).shape == (1, 4, 4, 1)
    assert fastconv.max_pool2d(x, 3, 2, 0, ceil_mode=True).shape == (1, 3, 3, 1)
    assert fastconv.max_pool2d(x, 3, 2, 0).shape == (1, 3, 2, 1)


def test_count_include_pad_divides_by_the_padded_window():
    x = np.ones((1, 3, 3, 1))
    y = fastconv.avg_pool2d(x, 3, 1, padding=1, count_include_pad=True)
    np.testing.assert_allclose(y[0, :, :, 0], [[4 / 9, 6 / 9, 4 / 9], [6 / 9, 1, 6 / 9],
                                               [4 / 9, 6 / 9, 4 / 9]])


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_indices_and_unpool(dtype, layout, rng):
    x = rand(rng, (2, 9, 8, 3), dtype)
    if layout == "NCHW":
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    kw = dict(size=3, stride=2, padding=1, dilation=1, ceil_mode=True, layout=layout)
    y, idx = fastconv.max_pool2d(x, **kw, return_indices=True)
    y_ref, idx_ref = ref.max_pool2d(x, **kw, return_indices=True)
    np.testing.assert_array_equal(y, y_ref)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx, idx_ref)
    # every index points at its maximum in its plane
    planes = x.reshape(2, -1, 3) if layout == "NHWC" else x.reshape(2, 3, -1)
    axis = 1 if layout == "NHWC" else 2
    picked = np.take_along_axis(planes, idx.reshape(2, -1, 3) if layout == "NHWC"
                                else idx.reshape(2, 3, -1), axis=axis)
    np.testing.assert_array_equal(picked.reshape(y.shape), y)
    out = fastconv.max_unpool2d(y, idx, 3, 2, 1, output_size=(9, 8), layout=layout)
    np.testing.assert_array_equal(out, ref.max_unpool2d(y, idx, 3, 2, 1, output_size=(9, 8),
                                                        layout=layout))


def test_max_unpool_default_size_and_bad_indices():
    x = np.arange(16.0).reshape(1, 4, 4, 1)
    y, idx = fastconv.max_pool2d(x, 2, return_indices=True)
    out = fastconv.max_unpool2d(y, idx, 2)
    assert out.shape == (1, 4, 4, 1)
    np.testing.assert_array_equal(out[0, :, :, 0], [[0, 0, 0, 0], [0, 5, 0, 7], [0, 0, 0, 0],
                                                    [0, 13, 0, 15]])
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 16\)"):
        fastconv.max_unpool2d(y, idx + 16, 2)
    with pytest.raises(ValueError, match="indices has shape"):
        fastconv.max_unpool2d(y, idx[:, :1], 2)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_global_max_pool(dtype, layout, rng):
    x = rand(rng, (3, 7, 5, 11), dtype)
    if layout == "NCHW":
        x = x.transpose(0, 3, 1, 2)
    y = fastconv.global_max_pool2d(x, layout=layout)
    assert y.shape == (3, 11)
    np.testing.assert_array_equal(y, ref.global_max_pool2d(x, layout=layout))
    dy = rand(rng, y.shape, dtype)
    np.testing.assert_array_equal(fastconv.global_max_pool2d_backward(dy, x, layout=layout),
                                  ref.global_max_pool2d_backward(dy, x, layout=layout))
    assert fastconv.global_max_pool2d(x[0], layout=layout).shape == (11,)
    assert fastconv.global_max_pool2d_backward(dy[0], x[0], layout=layout).shape == x[0].shape


def test_dilated_window_wholly_in_the_padding_is_an_error():
    # 2 rows, window 2 with dilation 3, padding 1: taps at -1 and 2, both outside
    with pytest.raises(ValueError, match="every tap in the padding"):
        fastconv.max_pool2d(np.zeros((1, 2, 5, 1)), 2, 1, 1, dilation=3)
    with pytest.raises(TypeError, match="ceil_mode must be True or False"):
        fastconv.max_pool2d(np.zeros((1, 4, 4, 1)), 2, ceil_mode=1)
    with pytest.raises(ValueError, match="padding .* must be smaller than the window"):
        fastconv.avg_pool2d(np.zeros((1, 4, 4, 1)), 2, padding=2, ceil_mode=True)
