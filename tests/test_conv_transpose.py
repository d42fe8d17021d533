"""conv_transpose2d and its backward against the NumPy reference, finite
differences and its defining property: it is conv2d_backward's dx."""
import numpy as np
import pytest

import fastconv
from fastconv import reference as ref
from helpers import DTYPES, LAYOUTS, assert_close, numeric_grad, rand

# (N, H, W, C, K, R, S, stride, padding, output_padding, dilation, groups):
# N, H, W and C distinct, so that a swapped axis shows
CASES = [
    (2, 5, 6, 3, 4, 3, 3, 1, 0, 0, 1, 1),
    (1, 4, 7, 6, 8, 4, 4, 2, 1, 0, 1, 2),              # DCGAN's 4x4/2, grouped
    (3, 6, 5, 4, 2, 3, 3, 2, 1, 1, 1, 1),              # output_padding (ResNet-style decoder)
    (2, 3, 4, 5, 7, 2, 2, 2, 0, 0, 1, 1),              # 2x2/2 U-Net upsampling
    (1, 5, 4, 2, 3, 3, 2, (3, 2), ((1, 0), (2, 1)), (2, 1), 1, 1),
    (2, 4, 5, 3, 6, 3, 3, 1, 2, 1, 2, 3),              # output_padding >= stride, < dilation
    (1, 6, 7, 4, 4, 3, 3, 2, "same", 0, 1, 4),         # depthwise, "same"
    (1, 5, 6, 3, 2, 1, 1, 3, 0, 2, 1, 1),              # 1x1, stride 3
    (0, 4, 5, 3, 2, 3, 3, 2, 1, 0, 1, 1),              # empty batch
]


def case_id(case):
    n, h, w, c, k, r, s, st, pad, op, dil, g = case
    return f"n{n}-{h}x{w}-c{c}k{k}-{r}x{s}-s{st}-p{pad}-op{op}-d{dil}-g{g}".replace(" ", "")


def inputs(case, dtype, layout, rng):
    n, h, w, c, k, r, s, stride, padding, op, dil, groups = case
    x = rand(rng, (n, h, w, c), dtype)
    wt = rand(rng, (r, s, k // groups, c), dtype)
    if layout == "NCHW":
        x, wt = np.ascontiguousarray(x.transpose(0, 3, 1, 2)), np.ascontiguousarray(
            wt.transpose(3, 2, 0, 1))
    kw = dict(stride=stride, padding=padding, output_padding=op, dilation=dil, groups=groups,
              layout=layout)
    return x, wt, rand(rng, (k,), dtype), kw


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_forward_and_backward_match_the_reference(case, dtype, layout, rng):
    x, w, b, kw = inputs(case, dtype, layout, rng)
    y = fastconv.conv_transpose2d(x, w, b, activation="relu", **kw)
    want = ref.conv_transpose2d(x, w, b, activation="relu", **kw)
    assert_close(y, want, ref.conv_transpose2d(np.abs(x), np.abs(w), np.abs(b), **kw))
    dy = rand(rng, y.shape, dtype)
    got = fastconv.conv_transpose2d_backward(dy, x, w, **kw)
    expected = ref.conv_transpose2d_backward(dy, x, w, **kw)
    mags = ref.conv_transpose2d_backward(np.abs(dy), np.abs(x), np.abs(w), **kw)
    for g, e, m in zip(got, expected, mags):
        assert_close(g, e, m)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_it_is_the_gradient_of_conv2d(layout, rng):
    # conv2d maps (N, 9, 8, 5) -> (N, 5, 4, 6) at stride 2, pad 1: its dx of dy
    # is the transposed convolution of dy, with output_padding 1 on the columns
    x = rng.standard_normal((2, 9, 8, 5))
    w = rng.standard_normal((3, 3, 5, 6))
    if layout == "NCHW":
        x, w = x.transpose(0, 3, 1, 2).copy(), w.transpose(3, 2, 0, 1).copy()
    y = fastconv.conv2d(x, w, stride=2, padding=1, layout=layout)
    dy = rng.standard_normal(y.shape)
    dx, _, _ = fastconv.conv2d_backward(dy, x, w, stride=2, padding=1, layout=layout)
    up = fastconv.conv_transpose2d(dy, w, stride=2, padding=1, output_padding=(0, 1),
                                   layout=layout)
    np.testing.assert_allclose(up, dx, atol=1e-12)


GRAD_CASES = [
    dict(stride=2, padding=1, output_padding=1),
    dict(stride=(1, 2), padding=((0, 1), (2, 0)), dilation=(2, 1), groups=2),
    dict(stride=2, padding=0, output_padding=(2, 0), dilation=3),
    dict(stride=2, padding="same"),
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("kw", GRAD_CASES, ids=lambda kw: "-".join(f"{k}{v}" for k, v in
                                                                   kw.items()).replace(" ", ""))
def test_backward_by_finite_differences(kw, layout, rng):
    groups = kw.get("groups", 1)
    x = rng.standard_normal((2, 4, 5, 4))
    w = rng.standard_normal((3, 2, 6 // groups, 4))
    if layout == "NCHW":
        x, w = x.transpose(0, 3, 1, 2).copy(), w.transpose(3, 2, 0, 1).copy()
    b = np.zeros(6)
    y = fastconv.conv_transpose2d(x, w, b, layout=layout, **kw)
    dy = rng.standard_normal(y.shape)
    dx, dw, db = fastconv.conv_transpose2d_backward(dy, x, w, layout=layout, **kw)
    loss = lambda: np.sum(fastconv.conv_transpose2d(x, w, b, layout=layout, **kw) * dy)  # noqa
    np.testing.assert_allclose(dx, numeric_grad(loss, x), atol=1e-7)
    np.testing.assert_allclose(dw, numeric_grad(loss, w), atol=1e-7)
    np.testing.assert_allclose(db, numeric_grad(loss, b), atol=1e-7)


def test_shapes_and_threads(rng):
    x = rng.standard_normal((3, 5, 6, 8)).astype(np.float32)
    w = rng.standard_normal((4, 4, 16, 8)).astype(np.float32)
    y = fastconv.conv_transpose2d(x, w, stride=2, padding=1)
    assert y.shape == (3, 10, 12, 16)
    assert fastconv.conv_transpose2d(x[0], w, stride=2, padding=1).shape == (10, 12, 16)
    assert fastconv.conv_transpose2d(x, w, stride=2, padding="same").shape == (3, 10, 12, 16)
    old = fastconv.get_num_threads()
    try:
        fastconv.set_num_threads(1)
        one = fastconv.conv_transpose2d(x, w, stride=2, padding=1)
        grads_one = fastconv.conv_transpose2d_backward(y, x, w, stride=2, padding=1)
    finally:
        fastconv.set_num_threads(old)
    np.testing.assert_array_equal(one, y)
    for a, b in zip(grads_one, fastconv.conv_transpose2d_backward(y, x, w, stride=2, padding=1)):
        np.testing.assert_array_equal(a, b)


def test_errors_name_the_arguments():
    x, w = np.zeros((1, 4, 4, 3)), np.zeros((3, 3, 2, 3))
    with pytest.raises(ValueError, match=r"output_padding 2 \(axis H\) must be smaller than "
                                         r"the stride 2 or the dilation 1"):
        fastconv.conv_transpose2d(x, w, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="x has 3 channels but w expects 4"):
        fastconv.conv_transpose2d(x, np.zeros((3, 3, 2, 4)))
    with pytest.raises(ValueError, match="groups=2 does not divide the 3 input channels"):
        fastconv.conv_transpose2d(x, w, groups=2)
    with pytest.raises(ValueError, match="leaves no output"):
        fastconv.conv_transpose2d(np.zeros((1, 1, 1, 3)), np.zeros((1, 1, 2, 3)), padding=1)
    with pytest.raises(ValueError, match="b must have shape"):
        fastconv.conv_transpose2d(x, w, np.zeros(3))
    with pytest.raises(ValueError, match="dy has shape"):
        fastconv.conv_transpose2d_backward(np.zeros((1, 5, 5, 2)), x, w)
