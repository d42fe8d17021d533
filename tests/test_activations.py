"""Activations, softmax and their backward passes against the reference."""
import numpy as np
import pytest

import fastconv
from fastconv import reference as ref
from helpers import DTYPES, assert_close, rand

UNARY = ["relu", "leaky_relu", "sigmoid", "tanh"]
# backward functions take the forward input (relu, leaky) or output (sigmoid, tanh)
TAKES_OUTPUT = {"sigmoid", "tanh"}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("shape", [(), (7,), (3, 50000), (2, 0, 3)],
                         ids=["scalar", "7", "3x50000", "2x0x3"])
def test_unary_forward_and_backward(name, shape, dtype, rng):
    x = (rand(rng, shape, dtype) * 10).astype(dtype)
    y = getattr(fastconv, name)(x)
    assert_close(y, getattr(ref, name)(x), 1.0)
    dy = rand(rng, shape, dtype)
    arg = y if name in TAKES_OUTPUT else x
    dx = getattr(fastconv, f"{name}_backward")(dy, arg)
    assert_close(dx, getattr(ref, f"{name}_backward")(dy, arg), np.max(np.abs(dy), initial=1.0))


def test_extreme_values():
    x = np.array([-1e30, -100.0, -0.0, 0.0, 100.0, 1e30, np.inf, -np.inf, np.nan], np.float32)
    for name in UNARY:
        y = getattr(fastconv, name)(x)
        np.testing.assert_allclose(y, getattr(ref, name)(x), rtol=1e-6, err_msg=name)
    assert np.all(fastconv.sigmoid(x)[:-1] >= 0)


def test_leaky_relu_alpha(rng):
    x = rand(rng, (100,), np.float64)
    np.testing.assert_allclose(fastconv.leaky_relu(x, alpha=0.2), np.where(x < 0, 0.2 * x, x))
    dy = rand(rng, (100,), np.float64)
    np.testing.assert_allclose(fastconv.leaky_relu_backward(dy, x, alpha=0.2),
                               np.where(x > 0, dy, 0.2 * dy))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [-1, 0, 1], ids="axis{}".format)
def test_softmax(axis, dtype, rng):
    x = (rand(rng, (6, 9, 4), dtype) * 20).astype(dtype)
    y = fastconv.softmax(x, axis=axis)
    assert_close(y, ref.softmax(x, axis=axis), 1.0)
    np.testing.assert_allclose(y.sum(axis=axis), 1.0, rtol=1e-5)
    dy = rand(rng, x.shape, dtype)
    assert_close(fastconv.softmax_backward(dy, y, axis=axis),
                 ref.softmax_backward(dy, y, axis=axis), 10.0)


def test_softmax_is_stable_for_large_inputs():
    x = np.array([[1000.0, 1000.0], [-1000.0, 0.0]])
    np.testing.assert_allclose(fastconv.softmax(x), [[0.5, 0.5], [0.0, 1.0]])
