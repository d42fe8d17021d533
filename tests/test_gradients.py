"""Every backward function against float64 central finite differences of its
forward function."""
import numpy as np
import pytest

import fastconv

from helpers import numeric_grad


def kw_id(kw):
    return "-".join(f"{k}{v}" for k, v in kw.items()).replace(" ", "")


CONV_GRAD_CASES = [
    dict(stride=1, padding=0, dilation=1, groups=1),
    dict(stride=2, padding=1, dilation=1, groups=1),
    dict(stride=(1, 2), padding="same", dilation=(2, 1), groups=2),
    dict(stride=3, padding=((0, 2), (1, 0)), dilation=1, groups=1),
]


@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
@pytest.mark.parametrize("kw", CONV_GRAD_CASES, ids=kw_id)
def test_conv2d_backward(kw, layout, rng):
    x = rng.standard_normal((2, 6, 7, 4))
    w = rng.standard_normal((3, 2, 4 // kw["groups"], 4))
    if layout == "NCHW":
        x, w = x.transpose(0, 3, 1, 2).copy(), w.transpose(3, 2, 0, 1).copy()
    dy = rng.standard_normal(fastconv.conv2d(x, w, layout=layout, **kw).shape)
    dx, dw, db = fastconv.conv2d_backward(dy, x, w, layout=layout, **kw)
    b = np.zeros(db.shape)
    loss = lambda: np.sum(fastconv.conv2d(x, w, b, layout=layout, **kw) * dy)  # noqa: E731
    np.testing.assert_allclose(dx, numeric_grad(loss, x), atol=1e-7)
    np.testing.assert_allclose(dw, numeric_grad(loss, w), atol=1e-7)
    np.testing.assert_allclose(db, numeric_grad(loss, b), atol=1e-7)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("kw", [dict(size=2), dict(size=3, stride=2, padding=1),
                                dict(size=(2, 3), stride=1, padding="same")], ids=kw_id)
def test_pool_backward(kind, kw, rng):
    x = rng.permutation(2 * 5 * 6 * 3).reshape(2, 5, 6, 3) / 7.0   # distinct: no ties
    fwd = getattr(fastconv, f"{kind}_pool2d")
    dy = rng.standard_normal(fwd(x, **kw).shape)
    dx = getattr(fastconv, f"{kind}_pool2d_backward")(dy, x, **kw)
    np.testing.assert_allclose(dx, numeric_grad(lambda: np.sum(fwd(x, **kw) * dy), x), atol=1e-7)


@pytest.mark.parametrize("kind,count_include_pad", [("max", False), ("avg", False),
                                                     ("avg", True)])
@pytest.mark.parametrize("kw", [dict(size=3, stride=2, padding=1, ceil_mode=True),
                                dict(size=2, stride=1, padding=1, dilation=2),
                                dict(size=(3, 2), stride=(2, 3), padding=(1, 1), dilation=(1, 2),
                                     ceil_mode=True)], ids=kw_id)
def test_pool_options_backward(kind, kw, count_include_pad, rng):
    kw = dict(kw, count_include_pad=count_include_pad) if kind == "avg" else kw
    x = rng.permutation(2 * 7 * 6 * 3).reshape(2, 7, 6, 3) / 7.0   # distinct: no ties
    fwd = getattr(fastconv, f"{kind}_pool2d")
    dy = rng.standard_normal(fwd(x, **kw).shape)
    dx = getattr(fastconv, f"{kind}_pool2d_backward")(dy, x, **kw)
    np.testing.assert_allclose(dx, numeric_grad(lambda: np.sum(fwd(x, **kw) * dy), x), atol=1e-7)


@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_global_max_pool_backward(layout, rng):
    x = rng.permutation(2 * 5 * 4 * 3).reshape(2, 5, 4, 3) / 7.0
    if layout == "NCHW":
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    dy = rng.standard_normal((2, 3))
    dx = fastconv.global_max_pool2d_backward(dy, x, layout=layout)
    loss = lambda: np.sum(fastconv.global_max_pool2d(x, layout=layout) * dy)  # noqa: E731
    np.testing.assert_allclose(dx, numeric_grad(loss, x), atol=1e-7)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "tanh"])
def test_activation_backward(name, rng):
    x = rng.standard_normal((4, 5))
    x[np.abs(x) < 1e-3] = 0.5          # keep clear of relu's kink
    f = getattr(fastconv, name)
    dy = rng.standard_normal(x.shape)
    arg = f(x) if name in ("sigmoid", "tanh") else x
    dx = getattr(fastconv, f"{name}_backward")(dy, arg)
    np.testing.assert_allclose(dx, numeric_grad(lambda: np.sum(f(x) * dy), x), atol=1e-8)


@pytest.mark.parametrize("axis", [0, -1])
def test_softmax_backward(axis, rng):
    x = rng.standard_normal((4, 5))
    dy = rng.standard_normal(x.shape)
    dx = fastconv.softmax_backward(dy, fastconv.softmax(x, axis=axis), axis=axis)
    grad = numeric_grad(lambda: np.sum(fastconv.softmax(x, axis=axis) * dy), x)
    np.testing.assert_allclose(dx, grad, atol=1e-8)
