"""conv2d and conv2d_backward against the NumPy reference, with each algorithm."""
import re

import numpy as np
import pytest

import fastconv
from fastconv import _config
from fastconv import reference as ref
from helpers import (CONV_CASES, DTYPES, LAYOUTS, assert_close, assert_conv_backward_close,
                     conv_case_id, conv_inputs, conv_kwargs, isa, rand,
                     same_bits_on_1_and_2_threads, threads, to_layout)

ALGORITHMS = ["auto", "gemm", "direct", "winograd", "inplace", "depthwise"]


def magnitude(x, w, kw, layout, b=None):
    """max of |x| (*) |w| (+ |b|): the size of the terms each output sums."""
    m = ref.conv2d(np.abs(x), np.abs(w), None if b is None else np.abs(b), layout=layout, **kw)
    return np.max(m, initial=0.0)


def algorithm_applies(algorithm, x, w, layout, passes, **kw):
    """Whether the plan runs `algorithm` (asked for) on every one of `passes`."""
    plan = fastconv.conv2d_plan(x.shape, w.shape, layout=layout, dtype=x.dtype,
                                algorithm=algorithm, **kw)
    return all(plan[p]["algorithm"] is not None for p in passes)


def run_algorithm(call, applies):
    """call(); where the algorithm asked for does not apply, check that it says so."""
    if not applies:
        with pytest.raises(ValueError, match="does not apply: "):
            call()
        return None
    return call()


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES, ids=conv_case_id)
def test_conv2d_matches_reference(case, dtype, layout, algorithm, rng):
    x, w, b = conv_inputs(case, dtype, rng, layout)
    kw = conv_kwargs(case)
    y = run_algorithm(lambda: fastconv.conv2d(x, w, b, layout=layout, algorithm=algorithm, **kw),
                      algorithm_applies(algorithm, x, w, layout, ["forward"], **kw) or x.size == 0)
    if y is None:
        return
    assert y.flags.c_contiguous
    assert_close(y, ref.conv2d(x, w, b, layout=layout, **kw), magnitude(x, w, kw, layout, b))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES, ids=conv_case_id)
def test_conv2d_backward_matches_reference(case, dtype, layout, algorithm, rng):
    x, w, _ = conv_inputs(case, dtype, rng, layout)
    kw = conv_kwargs(case)
    dy = rand(rng, ref.conv2d(x, w, layout=layout, **kw).shape, dtype)
    got = run_algorithm(
        lambda: fastconv.conv2d_backward(dy, x, w, layout=layout, algorithm=algorithm, **kw),
        algorithm_applies(algorithm, x, w, layout, ["dw", "dx"], **kw) or x.size == 0)
    if got is None:
        return
    assert_conv_backward_close(got, dy, x, w, layout=layout, **kw)
    dx, dw, db = got
    assert dw.shape == w.shape and dx.shape == x.shape and db.shape == (w.shape[-1 if layout == "NHWC" else 0],)


@pytest.mark.parametrize("activation", [None, "relu", "leaky_relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_fused_activation(activation, dtype, rng):
    case = CONV_CASES[1]
    x, w, b = conv_inputs(case, dtype, rng)
    kw = conv_kwargs(case)
    y = fastconv.conv2d(x, w, b, activation=activation, **kw)
    assert_close(y, ref.conv2d(x, w, b, activation=activation, **kw), magnitude(x, w, kw, "NHWC", b))


# Each forward kernel's store epilogue (bias, activation), on shapes that reach
# it: (x shape, w shape, stride, padding, groups, algorithm, the variants the
# plan may run: lanes needs permutes, which not every ISA and dtype has).  37
# and 21 output channels leave partial register tiles.
EPILOGUE_CASES = [
    ((2, 7, 9, 20), (1, 1, 20, 37), 1, 0, 1, "gemm", ("pointwise",)),
    ((2, 9, 8, 20), (3, 3, 20, 37), 2, 1, 1, "gemm", ("im2col",)),   # rows of 4: not "rows"
    ((2, 11, 13, 3), (3, 3, 3, 21), 1, 1, 1, "gemm", ("rows",)),
    ((1, 4, 9, 3), (3, 3, 3, 21), 1, 3, 1, "gemm", ("rows",)),   # rows wholly in the padding
    ((2, 10, 11, 16), (3, 3, 16, 19), 1, 1, 1, "winograd", ("none",)),
    ((2, 10, 11, 6), (3, 3, 6, 5), 1, 1, 1, "direct", ("none",)),
    ((2, 10, 11, 21), (3, 3, 1, 21), 2, 1, 21, "depthwise", ("none",)),
    ((2, 10, 11, 24), (3, 3, 4, 24), 1, 1, 6, "depthwise", ("lanes", "grouped")),
]


@pytest.mark.parametrize("activation", [None, "relu", "leaky_relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", EPILOGUE_CASES, ids=lambda c: f"{c[5]}-{c[6][0]}")
def test_fused_bias_and_activation_in_every_kernel(case, dtype, layout, with_bias, activation, rng):
    """NHWC runs the kernel named; NCHW the same algorithm's channels-first store."""
    xs, ws, stride, padding, groups, algorithm, variants = case
    kw = dict(stride=stride, padding=padding, groups=groups)
    if layout == "NHWC":
        plan = fastconv.conv2d_plan(xs, ws, dtype=dtype, algorithm=algorithm, **kw)["forward"]
        assert plan["algorithm"] == algorithm and plan["variant"] in variants, plan
    x, w = to_layout(rand(rng, xs, dtype), rand(rng, ws, dtype), layout)
    b = rand(rng, ws[-1:], dtype) if with_bias else None
    algorithm = algorithm if algorithm_applies(algorithm, x, w, layout, ["forward"], **kw) else "auto"
    y = fastconv.conv2d(x, w, b, layout=layout, activation=activation, algorithm=algorithm, **kw)
    assert_close(y, ref.conv2d(x, w, b, layout=layout, activation=activation, **kw),
                 magnitude(x, w, kw, layout, b))
    if with_bias:   # NaN goes through the epilogue: a NaN bias gives a NaN channel
        b[3] = np.nan
        y = fastconv.conv2d(x, w, b, layout=layout, activation=activation, algorithm=algorithm, **kw)
        channel = 1 if layout == "NCHW" else 3
        assert np.isnan(np.take(y, 3, axis=channel)).all()
        assert not np.isnan(np.delete(y, 3, axis=channel)).any()


@pytest.mark.parametrize("activation", [None, "relu", "tanh"])
@pytest.mark.parametrize("in_place", [False, True])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", EPILOGUE_CASES, ids=lambda c: f"{c[5]}-{c[6][0]}")
def test_residual_is_added_before_the_activation(case, dtype, layout, in_place, activation, rng):
    """act(conv + b + residual), in the GEMM's and Winograd's store (in place
    into out when out is the residual) and in a second pass after the others."""
    xs, ws, stride, padding, groups, algorithm, _ = case
    kw = dict(stride=stride, padding=padding, groups=groups)
    x, w = to_layout(rand(rng, xs, dtype), rand(rng, ws, dtype), layout)
    b = rand(rng, ws[-1:], dtype)
    algorithm = algorithm if algorithm_applies(algorithm, x, w, layout, ["forward"], **kw) else "auto"
    r = rand(rng, ref.conv2d(x, w, layout=layout, **kw).shape, dtype)
    want = ref.conv2d(x, w, b, layout=layout, activation=activation, residual=r, **kw)
    out = r.copy() if in_place else None
    y = fastconv.conv2d(x, w, b, layout=layout, activation=activation, residual=out if in_place else r,
                        out=out, algorithm=algorithm, **kw)
    assert y is out if in_place else y.shape == want.shape
    assert_close(y, want, magnitude(x, w, kw, layout, b) + np.max(np.abs(r)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", EPILOGUE_CASES, ids=lambda c: f"{c[5]}-{c[6][0]}")
def test_out_may_be_a_channel_slice(case, dtype, rng):
    """Every kernel writes a channel slice of a bigger NHWC array in place (a
    concatenation's part), leaving the other channels alone; another strided
    out gets the same values through a copy."""
    xs, ws, stride, padding, groups, algorithm, _ = case
    kw = dict(stride=stride, padding=padding, groups=groups, algorithm=algorithm)
    x, w, b = rand(rng, xs, dtype), rand(rng, ws, dtype), rand(rng, ws[-1:], dtype)
    want = fastconv.conv2d(x, w, b, activation="relu", **kw)
    big = np.full(want.shape[:-1] + (want.shape[-1] + 9,), 7, dtype)
    part = big[..., 4:4 + want.shape[-1]]
    assert fastconv.conv2d(x, w, b, activation="relu", out=part, **kw) is part
    np.testing.assert_array_equal(part, want)
    assert (big[..., :4] == 7).all() and (big[..., 4 + want.shape[-1]:] == 7).all()
    every_other_row = np.zeros((want.shape[0], 2 * want.shape[1]) + want.shape[2:], dtype)[:, ::2]
    fastconv.conv2d(x, w, b, activation="relu", out=every_other_row, **kw)
    np.testing.assert_array_equal(every_other_row, want)


def test_residual_plan_keeps_to_the_algorithms_that_add_it(rng):
    """Few output channels run direct, but with a residual the GEMM; a forced
    direct convolution still takes one (its sum in a second pass)."""
    xs, ws = (2, 10, 11, 6), (3, 3, 6, 5)
    assert fastconv.conv2d_plan(xs, ws, padding=1)["forward"]["algorithm"] == "direct"
    plan = fastconv.conv2d_plan(xs, ws, padding=1, residual=True)["forward"]
    assert plan["algorithm"] == "gemm", plan
    assert fastconv.conv2d_plan(xs, ws, padding=1, residual=True, algorithm="direct")["forward"][
        "algorithm"] is None
    x, w = rand(rng, xs, np.float32), rand(rng, ws, np.float32)
    r = rand(rng, (2, 10, 11, 5), np.float32)
    y = fastconv.conv2d(x, w, padding=1, residual=r, algorithm="direct")
    assert_close(y, ref.conv2d(x, w, padding=1, residual=r),
                 magnitude(x, w, dict(padding=1), "NHWC") + np.max(np.abs(r)))


@pytest.mark.parametrize("algorithm", ["auto", "direct"])
def test_residual_takes_the_result_dtype(algorithm, rng):
    """A float64 or integer residual is added in the result's dtype, by the
    store (auto) and by the second pass (direct) alike."""
    x, w = rand(rng, (1, 6, 6, 4), np.float32), rand(rng, (3, 3, 4, 5), np.float32)
    for r in (rand(rng, (1, 6, 6, 5), np.float64), np.arange(180).reshape(1, 6, 6, 5)):
        y = fastconv.conv2d(x, w, padding=1, residual=r, algorithm=algorithm)
        assert y.dtype == np.float32
        assert_close(y, ref.conv2d(x, w, padding=1, residual=r).astype(np.float32),
                     magnitude(x, w, dict(padding=1), "NHWC") + np.max(np.abs(r)))


def test_residual_of_the_wrong_shape_or_type_is_refused(rng):
    x, w = rand(rng, (1, 6, 6, 4), np.float32), rand(rng, (3, 3, 4, 8), np.float32)
    with pytest.raises(ValueError, match="residual has shape"):
        fastconv.conv2d(x, w, residual=np.zeros((1, 4, 4, 7), np.float32))
    with pytest.raises(TypeError, match="residual"):
        fastconv.conv2d(x, w, residual=np.full((1, 4, 4, 8), "a"))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_unbatched_input_gives_unbatched_result(layout, rng):
    case = CONV_CASES[1]
    x, w, b = conv_inputs(case, np.float64, rng, layout)
    kw = conv_kwargs(case)
    y = fastconv.conv2d(x[0], w, b, layout=layout, **kw)
    assert y.ndim == 3
    np.testing.assert_allclose(y, fastconv.conv2d(x, w, b, layout=layout, **kw)[0], rtol=1e-12)
    dy = rand(rng, y.shape, np.float64)
    dx, dw, db = fastconv.conv2d_backward(dy, x[0], w, layout=layout, **kw)
    rdx, rdw, rdb = ref.conv2d_backward(dy, x[0], w, layout=layout, **kw)
    assert dx.shape == x[0].shape
    np.testing.assert_allclose(dx, rdx, atol=1e-10)
    np.testing.assert_allclose(dw, rdw, atol=1e-10)


def test_non_contiguous_read_only_inputs_are_not_modified(rng):
    base = rand(rng, (2, 12, 15, 10), np.float64)
    x = base[:, ::2, ::-1, 1:8]           # strided, reversed, offset view
    w = np.asfortranarray(rand(rng, (3, 3, 7, 5), np.float64))
    b = rand(rng, (9, ), np.float64)[::2]
    for arr in (base, w):
        arr.flags.writeable = False
    before = base.copy(), w.copy()
    y = fastconv.conv2d(x, w, b, padding=1)
    np.testing.assert_allclose(y, ref.conv2d(x, w, b, padding=1), atol=1e-10)
    dy = rand(rng, y.shape, np.float64)[:, :, ::-1]
    dx, dw, db = fastconv.conv2d_backward(dy, x, w, padding=1)
    rdx, rdw, rdb = ref.conv2d_backward(dy, x, w, padding=1)
    np.testing.assert_allclose(dx, rdx, atol=1e-10)
    np.testing.assert_allclose(dw, rdw, atol=1e-10)
    np.testing.assert_allclose(db, rdb, atol=1e-10)
    np.testing.assert_array_equal(base, before[0])
    np.testing.assert_array_equal(w, before[1])


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("contiguous", [True, False], ids=["contiguous-out", "strided-out"])
def test_out_argument(layout, contiguous, rng):
    case = CONV_CASES[0]
    x, w, b = conv_inputs(case, np.float32, rng, layout)
    kw = conv_kwargs(case)
    expected = fastconv.conv2d(x, w, b, layout=layout, **kw)
    if contiguous:
        out = np.full(expected.shape, np.nan, np.float32)
    else:
        out = np.full(expected.shape[:-1] + (2 * expected.shape[-1],), np.nan, np.float32)[..., ::2]
    result = fastconv.conv2d(x, w, b, layout=layout, out=out, **kw)
    assert result is out
    np.testing.assert_array_equal(out, expected)


def test_out_may_alias_the_input(rng):
    x = rand(rng, (1, 6, 6, 4), np.float64)
    w = rand(rng, (3, 3, 4, 4), np.float64)
    expected = ref.conv2d(x, w, padding=1)
    fastconv.conv2d(x, w, padding=1, out=x)
    np.testing.assert_allclose(x, expected, atol=1e-10)


def test_need_dx_false_skips_dx(rng):
    x, w, _ = conv_inputs(CONV_CASES[0], np.float64, rng)
    dy = rand(rng, fastconv.conv2d(x, w).shape, np.float64)
    dx, dw, db = fastconv.conv2d_backward(dy, x, w, need_dx=False)
    assert dx is None
    np.testing.assert_allclose(dw, ref.conv2d_backward(dy, x, w)[1], atol=1e-10)


def test_dtype_rules(rng):
    x = rng.integers(-3, 4, (1, 5, 5, 2))
    w = rng.integers(-3, 4, (3, 3, 2, 2)).astype(np.int8)
    y = fastconv.conv2d(x, w)
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, ref.conv2d(x, w))
    assert fastconv.conv2d(x.astype(np.float32), w.astype(np.float32)).dtype == np.float32
    assert fastconv.conv2d(x.astype(np.float32), w.astype(np.float64)).dtype == np.float64
    assert fastconv.conv2d(x.astype(bool), w.astype(np.float32)).dtype == np.float64


def test_nan_and_inf_propagate(rng):
    x = rand(rng, (1, 6, 6, 2), np.float32)
    w = rand(rng, (3, 3, 2, 3), np.float32)
    x[0, 2, 2, 0] = np.nan
    x[0, 5, 5, 1] = np.inf
    y = fastconv.conv2d(x, w, activation="relu")
    r = ref.conv2d(x, w, activation="relu")
    np.testing.assert_array_equal(np.isnan(y), np.isnan(r))
    assert np.isnan(y[0, 0:3, 0:3]).all()


@pytest.mark.parametrize("algorithm", ["auto", "gemm"])
def test_large_batch_matches_per_image(algorithm, rng):
    # each image of a batch equals its own convolution: bit for bit when the
    # plan runs the same algorithm and variant for both (the automatic choice
    # may differ with the batch: here direct for 9 images, the GEMM for one)
    x = rand(rng, (9, 10, 10, 5), np.float32)
    w = rand(rng, (3, 3, 5, 6), np.float32)
    kw = dict(padding=1, algorithm=algorithm)
    y = fastconv.conv2d(x, w, **kw)

    def how(shape):
        plan = fastconv.conv2d_plan(shape, w.shape, **kw)["forward"]
        return plan["algorithm"], plan["variant"]
    same = how(x.shape) == how(x.shape[1:])
    assert same or algorithm == "auto"
    for i in range(x.shape[0]):
        one = fastconv.conv2d(x[i], w, **kw)
        if same:
            np.testing.assert_array_equal(y[i], one)
        else:
            assert_close(y[i], one, magnitude(x[i:i + 1], w, dict(padding=1), "NHWC"))


@pytest.mark.parametrize("algorithm", ["Direct", "fft", None, 2])
def test_unknown_algorithm_is_rejected(algorithm, rng):
    x, w, _ = conv_inputs(CONV_CASES[0], np.float32, rng)
    with pytest.raises(ValueError, match="conv2d: algorithm must be one of"):
        fastconv.conv2d(x, w, algorithm=algorithm)
    dy = np.zeros_like(fastconv.conv2d(x, w))
    with pytest.raises(ValueError, match="conv2d_backward: algorithm must be one of"):
        fastconv.conv2d_backward(dy, x, w, algorithm=algorithm)


@pytest.mark.parametrize("k", range(1, 18))
def test_direct_kernels_every_channel_chunk(k, rng):
    """Every output-channel chunk width (1..8, and splits of 9..17) of the
    direct kernels, forward and backward, with a fused activation."""
    case = (3, 9, 11, 3, k, 3, 2, 1, (1, 0), 1, 1)
    x, w, b = conv_inputs(case, np.float32, rng)
    kw = conv_kwargs(case)
    y = fastconv.conv2d(x, w, b, activation="relu", algorithm="direct", **kw)
    assert_close(y, ref.conv2d(x, w, b, activation="relu", **kw), magnitude(x, w, kw, "NHWC", b))
    dy = rand(rng, y.shape, np.float32)
    assert_conv_backward_close(fastconv.conv2d_backward(dy, x, w, algorithm="direct", **kw),
                               dy, x, w, **kw)


@pytest.mark.parametrize("algorithm", ["auto", "winograd"])
def test_winograd_over_several_tile_blocks(algorithm, rng):
    """A layer "auto" runs by Winograd (3x3, stride 1, >= 1024 tiles, two tile
    blocks), odd output height, bias and activation fused; dx too."""
    case = (2, 47, 48, 64, 72, 3, 3, 1, 1, 1, 1)
    x, w, b = conv_inputs(case, np.float32, rng)
    kw = conv_kwargs(case)
    plan = fastconv.conv2d_plan(x.shape, w.shape, algorithm=algorithm, **kw)
    assert plan["forward"]["algorithm"] == plan["dx"]["algorithm"] == "winograd", plan
    y = fastconv.conv2d(x, w, b, activation="leaky_relu", algorithm=algorithm, **kw)
    want = ref.conv2d(x, w, b, activation="leaky_relu", **kw)
    assert_close(y, want, magnitude(x, w, kw, "NHWC", b))
    dy = rand(rng, y.shape, np.float32)
    assert_conv_backward_close(fastconv.conv2d_backward(dy, x, w, algorithm=algorithm, **kw),
                               dy, x, w, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
def test_winograd_over_several_output_channel_blocks(dtype, rng):
    """36 C K transformed kernel values (and dw's products) past a quarter of
    any L3 up to 64 MiB go in blocks of output channels (forward and dw: 520,
    not a multiple of any GEMM panel; dx: 256 output channels from 520)."""
    case = (1, 10, 9, 256, 520, 3, 3, 1, 1, 1, 1)
    x, w, b = conv_inputs(case, dtype, rng)
    kw = conv_kwargs(case)
    y = fastconv.conv2d(x, w, b, activation="relu", algorithm="winograd", **kw)
    assert_close(y, ref.conv2d(x, w, b, activation="relu", **kw), magnitude(x, w, kw, "NHWC", b))
    dy = rand(rng, y.shape, dtype)
    assert_conv_backward_close(fastconv.conv2d_backward(dy, x, w, algorithm="winograd", **kw),
                               dy, x, w, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
def test_winograd_dw_over_tile_blocks_same_bits_on_threads(dtype, rng):
    """dw by Winograd F(3x3, 4x4) sums 36 products over blocks of tiles (here
    several, with partial tiles at the bottom and right and uneven padding):
    the same bits on 1 and 2 threads, within the tolerance of the reference."""
    case = (6, 30, 27, 48, 40, 3, 3, 1, 1, 1, 1)
    x, w, _ = conv_inputs(case, dtype, rng)
    kw = dict(padding=((2, 0), (1, 1)))
    dy = rand(rng, ref.conv2d(x, w, **kw).shape, dtype)
    plan = fastconv.conv2d_plan(x.shape, w.shape, dtype=dtype, **kw)
    assert plan["dw"]["algorithm"] == "winograd", plan
    dw = same_bits_on_1_and_2_threads(
        lambda: fastconv.conv2d_backward(dy, x, w, need_dx=False, **kw)[1])
    want = ref.conv2d_backward(dy, x, w, **kw)[1]
    assert_close(dw, want, ref.conv2d_backward(np.abs(dy), np.abs(x), np.abs(w), **kw)[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_dx_by_tap_chunks(dtype, rng):
    """dx's implicit GEMM takes the transposed kernel a few taps at a time when
    a whole copy would pass 4 MiB (here 2 chunks in float32, 3 in float64)."""
    case = (2, 6, 5, 360, 360, 3, 3, 1, 1, 1, 1)
    x, w, _ = conv_inputs(case, dtype, rng)
    kw = conv_kwargs(case)
    dy = rand(rng, ref.conv2d(x, w, **kw).shape, dtype)
    assert_conv_backward_close(fastconv.conv2d_backward(dy, x, w, algorithm="gemm", **kw),
                               dy, x, w, **kw)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("c, k", [(3, 0), (0, 4)])
def test_no_channels(c, k, algorithm):
    """Zero input or output channels: empty or zero results, whatever the algorithm."""
    x, w = np.ones((2, 5, 5, c), np.float32), np.ones((3, 3, c, k), np.float32)
    y = fastconv.conv2d(x, w, padding=1, algorithm=algorithm)
    np.testing.assert_array_equal(y, np.zeros((2, 5, 5, k), np.float32))
    dx, dw, db = fastconv.conv2d_backward(np.ones_like(y), x, w, padding=1, algorithm=algorithm)
    np.testing.assert_array_equal(dx, np.zeros_like(x))
    np.testing.assert_array_equal(dw, np.zeros_like(w))
    np.testing.assert_array_equal(db, np.full(k, 50, np.float32))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, h, w, c, m, r, s, stride, padding, dilation", [
    (1, 56, 57, 64, 1, 3, 3, 1, 1, 1),           # MobileNet, batch 1
    (3, 15, 14, 32, 1, 3, 3, 2, 1, 1),           # stride 2
    (1, 7, 41, 48, 1, 3, 3, 2, 1, 1),            # stride 2, rows of several 8-pixel blocks
    (2, 13, 17, 37, 2, 3, 3, 1, "same", 1),      # multiplier 2, odd channels (vector tail)
    (2, 11, 12, 19, 3, 5, 3, (2, 1), 2, 1),      # 5x3, multiplier 3, mixed strides
    (1, 20, 18, 24, 1, 3, 3, 1, 4, 4),           # dilated
    (2, 9, 10, 5, 1, 3, 3, 3, ((2, 0), (1, 3)), (1, 2)),   # stride > kernel, asymmetric pads
    (0, 6, 7, 8, 1, 3, 3, 1, 1, 1),              # empty batch
    (1, 5, 19, 604, 1, 3, 3, 1, 1, 1),           # blocks past L1: channel chunks, a vector tail
    (2, 5, 15, 604, 1, 3, 3, 2, 1, 1),           # the same at stride 2
    (1, 4, 14, 520, 1, 3, 3, 1, 1, 1),           # 12 interior pixels: a block of 8, then of 4
    (2, 6, 15, 16, 1, 3, 3, 1, 3, 1),            # padding past the kernel: dx blocks end in the row
], ids=lambda v: str(v).replace(" ", ""))
def test_depthwise_kernels(n, h, w, c, m, r, s, stride, padding, dilation, dtype, rng):
    """The depthwise algorithm, which "auto" takes for groups = C: forward with
    bias and activation, dx, dw and db against the reference (dx also on 2
    threads: a block that wrote past its row clobbered the next one's)."""
    x = rand(rng, (n, h, w, c), dtype)
    wt = rand(rng, (r, s, 1, c * m), dtype)
    b = rand(rng, (c * m,), dtype)
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=c)
    plan = fastconv.conv2d_plan(x.shape, wt.shape, dtype=dtype, **kw)
    assert {p["algorithm"] for p in plan.values()} == {"depthwise"}, plan
    y = fastconv.conv2d(x, wt, b, activation="leaky_relu", **kw)
    assert_close(y, ref.conv2d(x, wt, b, activation="leaky_relu", **kw), magnitude(x, wt, kw, "NHWC", b))
    dy = rand(rng, y.shape, dtype)
    assert_conv_backward_close(fastconv.conv2d_backward(dy, x, wt, **kw), dy, x, wt, **kw)
    with threads(2):
        assert_conv_backward_close(fastconv.conv2d_backward(dy, x, wt, **kw), dy, x, wt, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c, stride, view, variant", [
    (512, 1, None, "wide_rows"),   # pixels 2 KiB (float32) or 4 KiB (float64) apart: rows copied wider
    (512, 2, None, "none"),        # strided: read in place
    (500, 1, 512, None),           # x a channel slice whose pixels alias: copied at 500 channels a pixel
    (512, 1, 528, None),           # a slice whose pixels do not: read in place
])
def test_depthwise_wide_rows(c, stride, view, variant, dtype, rng):
    """A stride-1 depthwise layer whose input pixels lie a multiple of 2 KiB
    apart runs forward and dw on rows copied a cache line wider (variant
    wide_rows); at stride 2 it reads them in place; either way it
    equals the reference, forward with bias and activation, dx, dw and db."""
    kw = dict(stride=stride, padding=1, groups=c)
    x = rand(rng, (2, 7, 9, view or c), dtype)[..., :c]
    wt, b = rand(rng, (3, 3, 1, c), dtype), rand(rng, (c,), dtype)
    if variant:
        plan = fastconv.conv2d_plan(x.shape, wt.shape, dtype=dtype, **kw)
        assert [plan[p]["variant"] for p in ("forward", "dx", "dw")] == [variant, "none", variant], plan
    y = same_bits_on_1_and_2_threads(lambda: fastconv.conv2d(x, wt, b, activation="relu", **kw))
    assert_close(y, ref.conv2d(x, wt, b, activation="relu", **kw), magnitude(x, wt, kw, "NHWC", b))
    dy = rand(rng, y.shape, dtype)
    assert_conv_backward_close(fastconv.conv2d_backward(dy, x, wt, **kw), dy, x, wt, **kw)
    same_bits_on_1_and_2_threads(lambda: fastconv.conv2d_backward(dy, x, wt, **kw)[1])   # dw


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c, stride", [(32, 1), (36, 2)])
def test_depthwise_from_memory(c, stride, dtype, rng):
    """A depthwise layer whose x and y together overflow half of L3 fetches x's
    rows ahead and writes y with non-temporal stores where its pixels fill
    whole cache lines (32 channels; y is allocated on a line), ReLU applied in
    the store (and dy's rows and dx likewise): right, the same bits on 1 and 2
    threads, and the same into an output off the line (ordinary stores)."""
    from fastconv import _native
    l3, isz = _native.cpu_caches()["l3"], np.dtype(dtype).itemsize
    ho = 64 // stride
    n = -(-l3 // (2 * (64 * 64 + ho * ho) * c * isz))   # images for 2 * (x + y) >= L3
    if l3 == 0 or n > 64:
        pytest.skip(f"an L3 of {l3} bytes")
    x = rand(rng, (n, 64, 64, c), dtype)
    wt, b = rand(rng, (3, 3, 1, c), dtype), rand(rng, (c,), dtype)
    kw = dict(stride=stride, padding=1, groups=c)
    y = same_bits_on_1_and_2_threads(lambda: fastconv.conv2d(x, wt, b, activation="relu", **kw))
    assert y.ctypes.data % 64 == 0
    size = np.abs(x).max() * np.abs(wt).sum(axis=(0, 1, 2)).max() + np.abs(b).max()
    assert_close(y, ref.conv2d(x, wt, b, activation="relu", **kw), size)
    odd = np.empty(y.size + 1, dtype)[1:].reshape(y.shape)   # 4 or 8 bytes past the block
    np.testing.assert_array_equal(fastconv.conv2d(x, wt, b, activation="relu", out=odd, **kw), y)
    dy = rand(rng, y.shape, dtype)   # dx: dy's rows fetched ahead, dx streamed
    dx = same_bits_on_1_and_2_threads(lambda: fastconv.conv2d_backward(dy, x, wt, **kw)[0])
    dx_size = np.abs(dy).max() * np.abs(wt).sum(axis=(0, 1, 2)).max()
    assert_close(dx, ref.conv2d_backward(dy, x, wt, **kw)[0], dx_size)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_new_tensors_start_on_a_cache_line(layout, dtype, rng):
    """The tensors fastconv allocates (outputs, dx, pooling's argmax) start on
    a 64-byte line, so that AVX-512 stores fill whole lines, and hold the values
    of an ordinary array; a zero-size one too."""
    from fastconv._args import empty_aligned
    x = rand(rng, (2, 3, 9, 9) if layout == "NCHW" else (2, 9, 9, 3), dtype)
    w = rand(rng, (3, 3, 3, 5), dtype)
    y = fastconv.conv2d(x, w, padding=1, layout=layout)
    dx, _, _ = fastconv.conv2d_backward(y, x, w, padding=1, layout=layout)
    p, idx = fastconv.max_pool2d(x, 2, layout=layout, return_indices=True)
    for a in (y, dx, p, idx, fastconv.conv2d(x[0], w, padding=1, layout=layout)):
        assert a.ctypes.data % 64 == 0 and a.flags.c_contiguous and a.flags.writeable
    assert empty_aligned((0, 4), dtype).shape == (0, 4)
    a = empty_aligned((3, 5), np.int64)
    a[...] = np.arange(15).reshape(3, 5)
    assert a.ctypes.data % 64 == 0 and a.tolist() == np.arange(15).reshape(3, 5).tolist()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, h, w, groups, cg, kg, r, stride, padding, dilation", [
    (2, 14, 15, 32, 4, 4, 3, 1, 1, 1),           # ResNeXt-50 32x4d, first stage
    (1, 9, 10, 4, 8, 8, 3, 2, 1, 1),             # 8 per group, stride 2
    (2, 11, 9, 3, 5, 7, 3, 1, "same", 2),        # odd widths, dilated
    (1, 8, 9, 2, 3, 1, 1, 1, 0, 1),              # 1x1, more inputs than outputs per group
    (1, 10, 12, 1, 6, 5, 5, 1, 2, 1),            # one group (forced): any C <= 8
], ids=lambda v: str(v).replace(" ", ""))
def test_grouped_by_depthwise_kernels(n, h, w, groups, cg, kg, r, stride, padding, dilation,
                                      dtype, rng):
    """Groups of at most 8 input channels through the depthwise kernels
    (input planes per group channel), forward, dx, dw and db."""
    x = rand(rng, (n, h, w, groups * cg), dtype)
    wt = rand(rng, (r, r, cg, groups * kg), dtype)
    b = rand(rng, (groups * kg,), dtype)
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    plan = fastconv.conv2d_plan(x.shape, wt.shape, dtype=dtype, algorithm="depthwise", **kw)
    assert {p["algorithm"] for p in plan.values()} == {"depthwise"}, plan
    y = fastconv.conv2d(x, wt, b, activation="relu", algorithm="depthwise", **kw)
    assert_close(y, ref.conv2d(x, wt, b, activation="relu", **kw), magnitude(x, wt, kw, "NHWC", b))
    dy = rand(rng, y.shape, dtype)
    got = fastconv.conv2d_backward(dy, x, wt, algorithm="depthwise", **kw)
    assert_conv_backward_close(got, dy, x, wt, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, h, w, groups, g, r, stride, padding, dilation", [
    (2, 14, 15, 32, 4, 3, 1, 1, 1),              # ResNeXt-50 32x4d, first stage
    (1, 9, 10, 4, 8, 3, 2, 1, 1),                # 8 per group, stride 2, batch 1
    (2, 11, 9, 8, 2, 3, 1, "same", 2),           # 2 per group, dilated
    (1, 12, 13, 2, 16, 3, 1, 1, 1),              # 16 per group (16-lane kernels only)
    (2, 10, 11, 4, 4, 5, 3, 2, 1),               # 5x5 at stride 3: dx phases without taps
    (1, 6, 7, 8, 4, 1, 2, 0, 1),                 # 1x1 downsampling
    (1, 9, 9, 4, 4, 3, 1, 0, 3),                 # dilation 3, no padding: few interior pixels
    (2, 7, 7, 3, 32, 3, 1, 1, 1),                # 32 per group (ResNeXt-50 layer4): wide kernels
    (1, 6, 5, 2, 64, 3, 1, 1, 1),                # 64 per group, the most the kernels take
    (1, 14, 13, 2, 16, 3, 2, 1, 1),              # 16 per group at stride 2
], ids=lambda v: str(v).replace(" ", ""))
def test_grouped_by_lane_kernels(n, h, w, groups, g, r, stride, padding, dilation, dtype, rng):
    """Groups of g = C/groups = K/groups channels on the vector lanes (the
    depthwise algorithm's "lanes" variant), forward with bias and activation,
    dx, dw and db against the reference, the same bits on 1 and 2 threads."""
    x = rand(rng, (n, h, w, groups * g), dtype)
    wt = rand(rng, (r, r, g, groups * g), dtype)
    b = rand(rng, (groups * g,), dtype)
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, algorithm="depthwise")
    plan = fastconv.conv2d_plan(x.shape, wt.shape, dtype=dtype, **dict(kw, algorithm="auto"))
    if _config.active_isa() == "generic":   # no vector permutes: no lanes kernels
        assert "lanes" not in {p["variant"] for p in plan.values()}, plan
        pytest.skip("the portable kernels have no lanes variant")
    forced = fastconv.conv2d_plan(x.shape, wt.shape, dtype=dtype, **kw)
    assert {p["variant"] for p in forced.values()} == {"lanes"}, forced
    # chosen without being asked up to two vectors of channels per group
    lanes = int(re.search(r"(\d+)-lane", forced["forward"]["micro_kernel"]).group(1))
    if g <= 2 * lanes:
        assert plan["forward"]["variant"] == plan["dx"]["variant"] == "lanes", plan
    else:
        assert plan["forward"]["algorithm"] == plan["dx"]["algorithm"] == "gemm", plan
    outs = []
    for t in (1, 2):
        with threads(t):
            y = fastconv.conv2d(x, wt, b, activation="relu", **kw)
            dy = np.cos(y).astype(dtype)
            outs.append((y,) + tuple(fastconv.conv2d_backward(dy, x, wt, **kw)))
    for a, c in zip(outs[0], outs[1]):
        np.testing.assert_array_equal(a, c)
    kw.pop("algorithm")
    assert_close(outs[0][0], ref.conv2d(x, wt, b, activation="relu", **kw),
                 magnitude(x, wt, kw, "NHWC", b))
    assert_conv_backward_close(outs[0][1:], np.cos(outs[0][0]).astype(dtype), x, wt, **kw)


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("k, algorithm", [(8, "direct"), (16, "gemm")])
def test_stem_kernels_share_tiles_of_few_images(n, k, algorithm, rng):
    """With fewer images than threads the direct kernels (8 output channels)
    and the rows GEMM (16) share each image's tiles among the threads: same
    bits with 1, 2 and 4 threads, and right."""
    x = rand(rng, (n, 67, 71, 3), np.float32)
    w = rand(rng, (3, 3, 3, k), np.float32)
    b = rand(rng, (k,), np.float32)
    assert fastconv.conv2d_plan(x.shape, w.shape, padding=1)["forward"]["algorithm"] == algorithm
    outs = []
    for t in (1, 2, 4):
        with threads(t):
            outs.append(fastconv.conv2d(x, w, b, padding=1, activation="relu"))
    for y in outs[1:]:
        np.testing.assert_array_equal(y, outs[0])
    assert_close(outs[0], ref.conv2d(x, w, b, padding=1, activation="relu"),
                 magnitude(x, w, dict(padding=1), "NHWC", b))


@pytest.mark.parametrize("n, r, stride, dilation", [(1, 3, 2, 1), (2, 1, 2, 1), (1, 5, 2, 2), (1, 3, 3, 1)])
def test_strided_dx_shares_blocks_of_few_images(n, r, stride, dilation, rng):
    """dx at stride > 1 (col2im) with fewer images than threads shares each
    image's blocks of rows (even blocks, then odd): same bits with 1, 2 and 3
    threads, and right.  A wide image makes blocks of few rows (about 1024
    output pixels each), so each image has several."""
    x = rand(rng, (n, 61, 230, 12), np.float32)
    w = rand(rng, (r, r, 12, 8), np.float32)
    kw = dict(stride=stride, padding="same", dilation=dilation)
    plan = fastconv.conv2d_plan(x.shape, w.shape, **kw)
    assert plan["dx"]["variant"] == "col2im", plan
    dy = rand(rng, ref.conv2d(x, w, **kw).shape, np.float32)
    outs = []
    for t in (1, 2, 3):
        with threads(t):
            outs.append(fastconv.conv2d_backward(dy, x, w, **kw))
    for got in outs[1:]:
        for a, b in zip(got, outs[0]):
            np.testing.assert_array_equal(a, b)
    assert_conv_backward_close(outs[0], dy, x, w, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c, r, kw", [
    (3, 3, dict(padding=1)),                  # a stem: each kernel row's taps one run of 9
    (1, 5, dict()),                           # LeNet's first layer
    (4, 3, dict(padding=2, dilation=2)),      # dilated: tap by tap
    (2, 7, dict(padding=(3, 1))),             # edge pixels of a wide kernel
])
def test_few_channel_dx_adds_dcol_rows(c, r, kw, dtype, rng):
    """dx by GEMM of a layer with at most 4 input channels at stride 1 (images
    too large for the direct kernels) is the GEMM of dy with W^T, a row of
    r * s * c terms per pixel added into dx (col2im), not the GEMM of gathered
    dy with c columns: right, also on NHWC copies of NCHW images, the same
    bits on 1 and 2 threads."""
    kw = dict(kw, algorithm="gemm")
    for layout in LAYOUTS:
        x = rand(rng, (3, 23, 31, c) if layout == "NHWC" else (3, c, 23, 31), dtype)
        w = rand(rng, (r, r, c, 24) if layout == "NHWC" else (24, c, r, r), dtype)
        plan = fastconv.conv2d_plan(x.shape, w.shape, dtype=dtype, layout=layout, **kw)
        assert plan["dx"]["variant"] == ("col2im" if layout == "NHWC" else "nhwc_chunks"), plan
        dy = rand(rng, fastconv.conv2d(x, w, layout=layout, **kw).shape, dtype)
        dx = same_bits_on_1_and_2_threads(
            lambda: fastconv.conv2d_backward(dy, x, w, layout=layout, **kw)[0])
        got = fastconv.conv2d_backward(dy, x, w, layout=layout, **kw)
        np.testing.assert_array_equal(got[0], dx)
        assert_conv_backward_close(got, dy, x, w, layout=layout,
                                   **{k: v for k, v in kw.items() if k != "algorithm"})


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, h, w, groups, cg, kg, r, padding", [
    (2, 14, 15, 32, 4, 4, 3, 1),                 # ResNeXt-50 32x4d, first stage
    (1, 9, 10, 4, 8, 8, 3, "same"),              # 8 per group, batch 1 (tiles shared)
    (3, 11, 9, 3, 5, 7, 3, 2),                   # odd widths, padding 2
    (2, 8, 9, 2, 3, 11, 2, 0),                   # 11 outputs per group: two chunks each
])
def test_grouped_by_direct_kernels(n, h, w, groups, cg, kg, r, padding, dtype, rng):
    """The direct kernels on grouped stride-1 convolutions (each chunk of
    output channels reads its group's planes): forward with bias and
    activation, and dx (a grouped forward convolution of dy), which "auto"
    runs this way for 2..8 channels per group (cg = kg: the lanes kernels)."""
    x = rand(rng, (n, h, w, groups * cg), dtype)
    wt = rand(rng, (r, r, cg, groups * kg), dtype)
    b = rand(rng, (groups * kg,), dtype)
    kw = dict(padding=padding, groups=groups)
    plan = fastconv.conv2d_plan(x.shape, wt.shape, dtype=dtype, algorithm="direct", **kw)
    assert plan["forward"]["algorithm"] == plan["dx"]["algorithm"] == "direct", plan
    y = fastconv.conv2d(x, wt, b, activation="tanh", algorithm="direct", **kw)
    assert_close(y, ref.conv2d(x, wt, b, activation="tanh", **kw), magnitude(x, wt, kw, "NHWC", b))
    dy = rand(rng, y.shape, dtype)
    auto = fastconv.conv2d_plan(x.shape, wt.shape, dtype=dtype, **kw)
    if max(cg, kg) <= 8:   # unless whole groups fit the vector lanes (cg = kg)
        assert auto["dx"]["algorithm"] == "direct" or auto["dx"]["variant"] == "lanes", auto
    assert_conv_backward_close(fastconv.conv2d_backward(dy, x, wt, **kw), dy, x, wt, **kw)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, h, w, groups, cg, kg, r, stride, padding, dilation", [
    (2, 15, 13, 32, 8, 8, 3, 2, 1, 1),           # ResNeXt-50 layer2.0: stride 2, 8 per group
    (3, 12, 11, 4, 16, 24, 3, 1, 1, 1),          # several pixel blocks of 96
    (1, 9, 10, 6, 64, 8, 3, 1, "same", 2),       # wide groups: few packed per chunk
    (2, 7, 9, 4, 12, 20, 1, 1, 0, 1),            # 1x1 stride 1: rows read in place (NHWC)
    (1, 8, 9, 2, 33, 5, 2, 3, 0, 1),             # odd sizes, stride 3
], ids=lambda v: str(v).replace(" ", ""))
def test_grouped_gemm_runs_every_group_in_one_pass(n, h, w, groups, cg, kg, r, stride, padding,
                                                    dilation, layout, dtype, rng):
    """The grouped forward GEMM (blocks of output pixels, im2col rows packed
    for several groups at once, then each group's GEMM): bias, activation,
    both layouts, and the same bits with 1 and 2 threads."""
    x, wt = to_layout(rand(rng, (n, h, w, groups * cg), dtype),
                      rand(rng, (r, r, cg, groups * kg), dtype), layout)
    b = rand(rng, (groups * kg,), dtype)
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, layout=layout)
    plan = fastconv.conv2d_plan(x.shape, wt.shape, dtype=dtype, algorithm="gemm", **kw)
    assert plan["forward"]["algorithm"] == "gemm", plan
    y = same_bits_on_1_and_2_threads(
        lambda: fastconv.conv2d(x, wt, b, activation="relu", algorithm="gemm", **kw))
    geo = {k: v for k, v in kw.items() if k != "layout"}
    assert_close(y, ref.conv2d(x, wt, b, activation="relu", **kw), magnitude(x, wt, geo, layout, b))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, h, w, c, k, r, s, stride, padding", [
    (2, 16, 101, 3, 16, 7, 7, 2, 3),             # ResNet stem 7x7/2
    (1, 23, 163, 3, 40, 11, 11, 4, 2),           # AlexNet stem 11x11/4, two column panels
    (3, 9, 90, 1, 8, 3, 3, 2, 1),                # one channel, MobileNet-like 3x3/2
    (1, 12, 50, 8, 33, 3, 5, 1, "same"),         # eight channels, odd sizes, 33 outputs
    (2, 6, 7, 2, 5, 3, 3, 1, 4),                 # padding past the kernel: rows all in the padding
    (1, 10, 41, 3, 16, 3, 3, 1, ((1, 2), (0, 3))),   # uneven padding, a partial last block
    (2, 9, 48, 24, 40, 3, 3, 2, 1),              # wider: 3x3/2 whose weights fit in L2
    (1, 7, 30, 16, 19, 5, 5, 1, 2),              # wider: 5x5, a partial column panel
], ids=lambda v: str(v).replace(" ", ""))
def test_rows_variant_reads_kernel_rows_in_place(n, h, w, c, k, r, s, stride, padding, dtype, rng):
    """The GEMM's "rows" variant for few input channels (and for wider
    layers of several taps whose weights fit in L2): each kernel row's
    receptive field read in place, from x for blocks inside the image, from
    their pixels copied between zero columns for blocks at the padding and
    ending a row (the copies of earlier rows' blocks left behind), summed over
    kernel rows; bias, activation, the same bits with 1 and 2 threads."""
    x = rand(rng, (n, h, w, c), dtype)
    wt = rand(rng, (r, s, c, k), dtype)
    b = rand(rng, (k,), dtype)
    kw = dict(stride=stride, padding=padding)
    plan = fastconv.conv2d_plan(x.shape, wt.shape, dtype=dtype, algorithm="gemm", **kw)
    assert plan["forward"]["variant"] == "rows", plan
    y = same_bits_on_1_and_2_threads(
        lambda: fastconv.conv2d(x, wt, b, activation="relu", algorithm="gemm", **kw))
    assert_close(y, ref.conv2d(x, wt, b, activation="relu", **kw), magnitude(x, wt, kw, "NHWC", b))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, h, w, groups, cg, kg, r, padding", [
    (2, 9, 11, 4, 16, 16, 3, 1),                 # ResNeXt-50 layer3's 16 per group
    (1, 13, 8, 3, 12, 5, 3, 2),                  # padding 2: the flipped convolution's is 0
    (3, 7, 10, 2, 9, 33, 2, 0),                  # even kernel, no padding
    (1, 6, 5, 5, 20, 4, 1, 0),                   # 1x1
], ids=lambda v: str(v).replace(" ", ""))
def test_grouped_dx_by_the_flipped_grouped_gemm(n, h, w, groups, cg, kg, r, padding, layout, dtype,
                                                 rng):
    """dx of a grouped stride-1 convolution as the grouped forward GEMM of dy
    with the flipped kernel (all groups in one pass), and dw with each thread
    running whole groups: right, in both layouts, and the same bits (dx, dw,
    db) with 1 and 2 threads."""
    x, wt = to_layout(rand(rng, (n, h, w, groups * cg), dtype),
                      rand(rng, (r, r, cg, groups * kg), dtype), layout)
    kw = dict(padding=padding, groups=groups, layout=layout)
    plan = fastconv.conv2d_plan(x.shape, wt.shape, dtype=dtype, algorithm="gemm", **kw)
    # channels first: the same pass on NHWC copies of the images
    assert plan["dx"]["algorithm"] == "gemm", plan
    assert plan["dx"]["variant"] == ("flipped" if layout == "NHWC" else "nhwc_chunks"), plan
    assert layout == "NHWC" or "as gemm/flipped" in plan["dx"]["reason"], plan
    dy = rand(rng, fastconv.conv2d(x, wt, **kw).shape, dtype)
    same_bits_on_1_and_2_threads(lambda: np.concatenate(
        [g.ravel() for g in fastconv.conv2d_backward(dy, x, wt, algorithm="gemm", **kw)]))
    assert_conv_backward_close(fastconv.conv2d_backward(dy, x, wt, algorithm="gemm", **kw),
                               dy, x, wt, **kw)


@pytest.mark.parametrize("shape, kw", [
    ((3, 16, 30, 29), dict(padding=1)),                               # 3x3, several images
    ((1, 24, 33, 31), dict(stride=2, padding=(1, 2), dilation=(1, 2))),
    ((2, 9, 12, 11), dict(stride=3, padding="same", dilation=1)),
])
def test_nchw_forward_gemm_runs_transposed(shape, kw, rng):
    """Contiguous NCHW arrays take the transposed GEMM (nchw variant): right,
    and the same bits on 1 and 2 threads."""
    x = rand(rng, shape, np.float32)
    w = rand(rng, (40, shape[1], 3, 3), np.float32)
    b = rand(rng, (40,), np.float32)
    plan = fastconv.conv2d_plan(x.shape, w.shape, layout="NCHW", algorithm="gemm", **kw)
    assert (plan["forward"]["algorithm"], plan["forward"]["variant"]) == ("gemm", "nchw"), plan
    y = same_bits_on_1_and_2_threads(lambda: fastconv.conv2d(
        x, w, b, layout="NCHW", algorithm="gemm", activation="relu", **kw))
    assert_close(y, ref.conv2d(x, w, b, layout="NCHW", activation="relu", **kw),
                 magnitude(x, w, kw, "NCHW", b))


def test_nchw_1x1_reads_large_planes_panel_by_panel(rng):
    """A 1x1 channels-first convolution reads x's planes in place as the
    GEMM's B; planes larger than L2 (2.6 MB an image) run B panel by B panel:
    right, and the same bits on 1 and 2 threads."""
    x = rand(rng, (2, 64, 100, 101), np.float32)
    w, b = rand(rng, (30, 64, 1, 1), np.float32), rand(rng, (30,), np.float32)
    y = same_bits_on_1_and_2_threads(lambda: fastconv.conv2d(x, w, b, layout="NCHW"))
    assert_close(y, ref.conv2d(x, w, b, layout="NCHW"), magnitude(x, w, {}, "NCHW", b))


@pytest.mark.parametrize("c, k, hw, kw", [
    (24, 24, (21, 37), dict(padding=1)),
    (16, 32, (21, 37), dict(padding=(2, 1), dilation=(1, 2))),   # channel multiplier 2, dilation
    (8, 8, (21, 37), dict(padding=((0, 3), (2, 0)))),            # asymmetric padding
    (8, 8, (13, 5), dict(padding=(2, 1), dilation=(2, 1))),      # rows dilated, shorter than a vector
    (8, 8, (21, 37), dict(stride=(2, 1), padding=1)),            # row stride 2: a row at a time
])
def test_nchw_depthwise_runs_on_planes(c, k, hw, kw, rng):
    """Channels-first depthwise convolutions at column stride 1 run on the
    channel planes (row stride 1: the whole padded plane as one flat array):
    right, and the same bits on 1 and 2 threads."""
    x = rand(rng, (2, c) + hw, np.float32)
    w = rand(rng, (k, 1, 3, 3), np.float32)
    b = rand(rng, (k,), np.float32)
    plan = fastconv.conv2d_plan(x.shape, w.shape, layout="NCHW", groups=c, **kw)
    assert (plan["forward"]["algorithm"], plan["forward"]["variant"]) == ("depthwise", "planes")
    y = same_bits_on_1_and_2_threads(lambda: fastconv.conv2d(
        x, w, b, layout="NCHW", groups=c, activation="relu", **kw))
    assert_close(y, ref.conv2d(x, w, b, layout="NCHW", groups=c, activation="relu", **kw),
                 magnitude(x, w, dict(kw, groups=c), "NCHW", b))


@pytest.mark.parametrize("shape, k, r, kw", [
    ((2, 40, 45, 3), 16, 3, dict(padding=1)),                          # YOLO-style stem
    ((1, 37, 50, 3), 20, 7, dict(stride=2, padding=3)),                # 7x7/2, K not a tile multiple
    ((3, 23, 29, 5), 32, 3, dict(stride=(1, 2), padding=(2, 0), dilation=(2, 1))),
    ((1, 9, 6, 8), 64, 5, dict(padding=2)),                            # no interior pixel
    ((2, 8, 30, 2), 17, 3, dict(padding=((0, 2), (4, 1)))),            # left padding past the kernel
])
def test_stem_dw_reads_rows_in_place(shape, k, r, kw, rng):
    """dw of few-channel layers (the rows variant): right, and the same bits on
    1 and 2 threads."""
    x = rand(rng, shape, np.float32)
    w = rand(rng, (r, r, shape[3], k), np.float32)
    y = ref.conv2d(x, w, **kw)
    dy = rand(rng, y.shape, np.float32)
    plan = fastconv.conv2d_plan(x.shape, w.shape, algorithm="gemm", **kw)
    assert plan["dw"]["variant"] == "rows", plan
    dw = same_bits_on_1_and_2_threads(lambda: fastconv.conv2d_backward(
        dy, x, w, need_dx=False, algorithm="gemm", **kw)[1])
    want = ref.conv2d_backward(dy, x, w, **kw)[1]
    assert_close(dw, want, ref.conv2d_backward(np.abs(dy), np.abs(x), np.abs(w), **kw)[1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, h, w, c, k, r, padding, channels, variant", [
    (2, 9, 10, 16, 30, 1, 0, 30, "dy_t_col"),    # 1x1: two full 12-row panels in place, one packed
    (1, 8, 7, 9, 24, 3, 1, 24, "dy_t_col"),      # 3x3 im2col columns, one image
    (2, 6, 5, 11, 25, 2, 0, 41, "dy_t_col"),     # dy a channel slice: pixels 41 apart
    (2, 23, 23, 9, 1024, 1, 0, 1024, "dy_t_col"),  # float32 pixels 4 KiB apart: packed instead
    (1, 3, 4, 30, 40, 1, 0, 37, "col_t_dy"),     # few pixels: col^T = x^T in place, x a slice
    (2, 3, 3, 13, 40, 3, 1, 13, "col_t_dy"),     # 3x3: col^T packed
], ids=lambda v: str(v).replace(" ", ""))
def test_dw_reads_its_transposed_operand_in_place(n, h, w, c, k, r, padding, channels, variant,
                                                  dtype, rng):
    """dw = dy^T col reads dy^T in place (rows one channel apart, columns one
    pixel apart), and dw = col^T dy reads x^T so when col is x (1x1), for full
    row panels, packing only the last partial one; the same bits on 1 and 2
    threads.  `channels`: the array the operand read in place is a slice of."""
    x, wt = rand(rng, (n, h, w, c), dtype), rand(rng, (r, r, c, k), dtype)
    if variant == "col_t_dy":
        x = rand(rng, (n, h, w, channels), dtype)[..., :c]
    kw = dict(padding=padding, algorithm="gemm")
    plan = fastconv.conv2d_plan(x.shape, wt.shape, dtype=dtype, **kw)
    assert plan["dw"]["variant"] == variant, plan
    ho, wo = h + 2 * padding - r + 1, w + 2 * padding - r + 1
    dy = rand(rng, (n, ho, wo, channels if variant == "dy_t_col" else k), dtype)[..., :k]
    same_bits_on_1_and_2_threads(lambda: fastconv.conv2d_backward(dy, x, wt, **kw)[1])
    assert_conv_backward_close(fastconv.conv2d_backward(dy, x, wt, **kw), dy, x, wt,
                               padding=padding)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, k, padding, channels", [
    ((3, 16, 13, 14), 24, 1, 16),               # odd sizes: partial 4x4 tiles
    ((4, 20, 15, 14), 16, 0, 33),               # unpadded; x a slice of a 33-channel array
    ((6, 64, 40, 40), 32, 1, 64),               # several chunks of images
])
def test_nchw_winograd_runs_on_nhwc_chunks(shape, k, padding, channels, dtype, rng):
    """Channels-first 3x3 layers that Winograd takes in NHWC run it on NHWC
    copies of a few images at a time (variant nhwc_chunks): right, with bias
    and activation, and the same bits on 1 and 2 threads."""
    n, c, h, w = shape
    x = rand(rng, (n, channels, h, w), dtype)[:, :c]
    wt, b = rand(rng, (k, c, 3, 3), dtype), rand(rng, (k,), dtype)
    plan = fastconv.conv2d_plan(x.shape, wt.shape, dtype=dtype, layout="NCHW", padding=padding)
    assert (plan["forward"]["algorithm"], plan["forward"]["variant"]) == \
        ("winograd", "nhwc_chunks"), plan
    y = same_bits_on_1_and_2_threads(lambda: fastconv.conv2d(
        x, wt, b, padding=padding, layout="NCHW", activation="relu"))
    kw = dict(padding=padding)
    assert_close(y, ref.conv2d(x, wt, b, layout="NCHW", activation="relu", **kw),
                 magnitude(x, wt, kw, "NCHW", b))
    nhwc = fastconv.conv2d(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), wt.transpose(2, 3, 1, 0),
                           b, padding=padding, activation="relu")
    np.testing.assert_array_equal(y, nhwc.transpose(0, 3, 1, 2))   # the NHWC pass's bits


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, c, hw, k, r, kw, channels, variant", [
    (3, 64, (64, 64), 32, 3, dict(padding=1), 64, "nhwc_chunks"),       # a chunk per image: dw summed over 3
    (5, 12, (17, 19), 20, 3, dict(stride=2, padding=1), 15, "nhwc_chunks"),   # strided; x a channel slice
    (4, 1, (28, 28), 6, 5, dict(padding=2), 1, "nhwc_chunks"),          # one input channel
    (2, 24, (13, 11), 48, 3, dict(padding=2, dilation=2, groups=24), 24, "nhwc_chunks"),  # depthwise x2
    (2, 32, (9, 10), 32, 3, dict(groups=4, padding=1), 32, "nhwc_chunks"),   # grouped
    (3, 16, (9, 8), 8, 1, dict(stride=2), 16, "nhwc_chunks"),           # 1x1 strided
    (6, 40, (7, 8), 24, 1, dict(), 40, "nchw"),                          # 1x1: GEMMs on the planes
    (2, 9, (5, 6), 33, 1, dict(), 11, "nchw"),                           # ... x a channel slice
])
def test_nchw_backward_runs_on_nhwc_chunks_or_planes(n, c, hw, k, r, kw, channels, variant, dtype,
                                                     rng):
    """Channels-first backward passes run on NHWC copies of a few images at a
    time (variant nhwc_chunks for dx and dw), 1x1 layers at stride 1 as GEMMs
    on each image's planes (nchw): right, and the same bits on 1 and 2
    threads, with and without dx."""
    g = kw.get("groups", 1)
    x = rand(rng, (n, channels, *hw), dtype)[:, :c]
    w = rand(rng, (k, c // g, r, r), dtype)
    y = ref.conv2d(x, w, layout="NCHW", **kw)
    dy = rand(rng, y.shape, dtype)
    plan = fastconv.conv2d_plan(x.shape, w.shape, dtype=dtype, layout="NCHW", **kw)
    assert plan["dx"]["variant"] == plan["dw"]["variant"] == variant, plan
    same_bits_on_1_and_2_threads(lambda: np.concatenate(
        [a.ravel() for a in fastconv.conv2d_backward(dy, x, w, layout="NCHW", **kw)]))
    got = fastconv.conv2d_backward(dy, x, w, layout="NCHW", **kw)
    assert_conv_backward_close(got, dy, x, w, layout="NCHW", **kw)
    dx, dw, db = fastconv.conv2d_backward(dy, x, w, layout="NCHW", need_dx=False, **kw)
    assert dx is None
    np.testing.assert_array_equal(dw, got[1])
    np.testing.assert_array_equal(db, got[2])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c, hw, r, kw, dx_variant", [
    (24, (21, 37), 3, dict(padding=1), "planes"),
    (16, (13, 5), 3, dict(padding=(2, 1), dilation=(2, 1)), "planes"),     # rows dilated, narrow
    (8, (12, 19), 5, dict(padding=((0, 4), (3, 1))), "planes"),             # asymmetric, 5x5
    (8, (9, 11), 3, dict(), "planes"),                                      # no padding: dx's is 2
    (8, (9, 11), 3, dict(padding=3), "nhwc_chunks"),                        # padding past the kernel
])
def test_nchw_depthwise_dx_runs_on_planes(c, hw, r, kw, dx_variant, dtype, rng):
    """dx of a channels-first depthwise layer at stride 1: the depthwise
    forward of dy's planes with the flipped kernel (dw stays on NHWC copies):
    right, the same bits on 1 and 2 threads, and dw's with and without dx."""
    x = rand(rng, (2, c, *hw), dtype)
    w = rand(rng, (c, 1, r, r), dtype)
    y = ref.conv2d(x, w, layout="NCHW", groups=c, **kw)
    dy = rand(rng, y.shape, dtype)
    plan = fastconv.conv2d_plan(x.shape, w.shape, dtype=dtype, layout="NCHW", groups=c, **kw)
    assert (plan["dx"]["algorithm"], plan["dx"]["variant"]) == ("depthwise", dx_variant), plan
    assert plan["dw"]["variant"] == "nhwc_chunks", plan
    got = same_bits_on_1_and_2_threads(lambda: np.concatenate(
        [a.ravel() for a in fastconv.conv2d_backward(dy, x, w, layout="NCHW", groups=c, **kw)]))
    assert_conv_backward_close(fastconv.conv2d_backward(dy, x, w, layout="NCHW", groups=c, **kw),
                               dy, x, w, layout="NCHW", groups=c, **kw)
    dx, dw, db = fastconv.conv2d_backward(dy, x, w, layout="NCHW", groups=c, need_dx=False, **kw)
    assert dx is None
    np.testing.assert_array_equal(np.concatenate([dw.ravel(), db.ravel()]), got[x.size:])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, wshape, kw, packs", [
    ((1, 7, 7, 48), (3, 3, 48, 40), dict(padding=1), True),          # 49 pixels: few rows
    ((2, 4, 5, 70), (1, 1, 70, 37), dict(), True),                    # 1x1, partial last panel
    ((1, 13, 13, 24), (3, 3, 24, 36), dict(stride=2, padding=1), True),
    ((1, 28, 28, 32), (3, 3, 32, 32), dict(padding=1), False),        # Winograd
    ((4, 9, 9, 40), (1, 1, 40, 48), dict(), False),                   # 324 pixels: packed per call
    ((2, 9, 9, 128), (3, 3, 64, 128), dict(padding=1, groups=2), True),  # grouped GEMM: any pixels
    ((1, 6, 6, 96), (1, 1, 24, 96), dict(groups=4), True),            # grouped 1x1, partial panel
    ((1, 8, 8, 64), (3, 3, 4, 64), dict(padding=1, groups=16), False),  # groups on the lanes
    ((2, 16, 101, 3), (7, 7, 3, 16), dict(stride=2, padding=3), True),   # rows variant: any pixels
    ((1, 7, 30, 16), (5, 5, 16, 19), dict(padding=2), True),          # rows, a partial panel
])
def test_runner_reads_weights_packed_once(shape, wshape, kw, packs, dtype, rng):
    """An inference step (conv2d_runner) of a few-pixel, grouped or rows-variant
    GEMM layer packs its weights once (conv_pack_weights): the same bits as conv2d, on 1 and 2
    threads, and under other kernels than the ones it packed for (whose NR
    may differ: the packing is then left unused)."""
    from fastconv import _native
    from fastconv.conv import _geometry, conv2d_runner
    x, w, b = rand(rng, shape, dtype), rand(rng, wshape, dtype), rand(rng, (wshape[3],), dtype)
    geo = _geometry("conv2d", x, w, "NHWC", kw.get("stride", 1), kw.get("padding", 0), 1,
                    kw.get("groups", 1), "auto")
    size, _ = _native.conv_pack_weights(w, geo)
    assert (size > 0) == packs
    out_shape, run = conv2d_runner(x.shape, dtype, w, b, activation="relu", **kw)
    want = fastconv.conv2d(x, w, b, activation="relu", **kw)
    got = same_bits_on_1_and_2_threads(lambda: run(x, np.empty(out_shape, dtype)))
    np.testing.assert_array_equal(got, want)
    for name in _config.supported_isas():
        with isa(name):
            np.testing.assert_array_equal(run(x, np.empty(out_shape, dtype)),
                                          fastconv.conv2d(x, w, b, activation="relu", **kw))
    if packs:
        with pytest.raises(ValueError, match="out has"):
            _native.conv_pack_weights(w, geo, np.empty(size - 1, dtype))
