"""linear and batch normalisation: every output against the reference, and
the backward functions against float64 finite differences of the forward."""
import numpy as np
import pytest

import fastconv
from fastconv import reference as ref

from helpers import DTYPES, LAYOUTS, assert_close, numeric_grad, rand

ACTIVATIONS = (None, "relu", "leaky_relu", "sigmoid", "tanh")
# (N, in_features, out_features)
LINEAR_SHAPES = [(4, 7, 5), (1, 1, 1), (9, 13, 17), (0, 3, 2), (3, 40, 600)]


def linear_id(shape):
    return "n{}-in{}-out{}".format(*shape)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("activation", ACTIVATIONS, ids=str)
@pytest.mark.parametrize("shape", LINEAR_SHAPES, ids=linear_id)
@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_matches_reference(dtype, shape, activation, bias, rng):
    n, fin, fout = shape
    x, w = rand(rng, (n, fin), dtype), rand(rng, (fin, fout), dtype)
    dy = rand(rng, (n, fout), dtype)
    b = rand(rng, (fout,), dtype) if bias else None
    y = fastconv.linear(x, w, b, activation=activation)
    # activations have slopes <= 1: the pre-activation terms bound every error
    mag = ref.linear(np.abs(x), np.abs(w), None if b is None else np.abs(b))
    assert_close(y, ref.linear(x, w, b, activation=activation), np.max(mag, initial=0.0))
    got = fastconv.linear_backward(dy, x, w, y, activation=activation)
    want = ref.linear_backward(dy, x, w, y, activation=activation)
    mags = ref.linear_backward(np.abs(dy), np.abs(x), np.abs(w))
    for g, r, m in zip(got, want, mags):
        assert_close(g, r, np.max(m, initial=0.0))


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=str)
def test_linear_backward_matches_finite_differences(activation, rng):
    x, w, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3)
    dy = rng.standard_normal((5, 3))
    y = fastconv.linear(x, w, b, activation=activation)
    dx, dw, db = fastconv.linear_backward(dy, x, w, y, activation=activation)
    loss = lambda: np.sum(fastconv.linear(x, w, b, activation=activation) * dy)  # noqa: E731
    for got, arr in ((dx, x), (dw, w), (db, b)):
        np.testing.assert_allclose(got, numeric_grad(loss, arr), atol=1e-7)


def test_linear_promotes_like_the_other_ops():
    y = fastconv.linear(np.ones((2, 3), np.float32), np.ones((3, 4)), np.ones(4, np.float32))
    assert y.dtype == np.float64 and np.all(y == 4.0)
    assert fastconv.linear(np.ones((2, 3), int), np.ones((3, 1), bool)).dtype == np.float64
    strided = fastconv.linear(np.arange(12.0).reshape(3, 4)[:, ::2], np.eye(2, dtype=np.float32))
    np.testing.assert_array_equal(strided, np.arange(12.0).reshape(3, 4)[:, ::2])


# channels-last shapes; NCHW moves the last axis to axis 1
BN_SHAPES = [(4, 3, 5, 7), (6, 5), (2, 1, 1, 3), (5, 2, 3, 1), (3, 4, 2, 33)]


def bn_id(shape):
    return "x".join(map(str, shape))


def bn_inputs(rng, shape, layout, dtype):
    """x (offset and scaled, as activations are), dy, gamma, beta."""
    c = shape[-1]
    x = (rng.standard_normal(shape) * rng.uniform(0.5, 3, c) + rng.uniform(-2, 2, c))
    dy = rng.standard_normal(shape)
    if layout == "NCHW":
        x, dy = np.moveaxis(x, -1, 1), np.moveaxis(dy, -1, 1)
    gamma, beta = rng.uniform(0.5, 2, c), rng.standard_normal(c)
    return [np.ascontiguousarray(a, dtype=dtype) for a in (x, dy, gamma, beta)]


def bn_magnitudes(x, dy, gamma, mean, var, layout, eps=1e-5):
    """The size of the terms each output sums: (y, dx, dgamma, dbeta)."""
    xl, g = ref._channels_last(x, layout), ref._channels_last(dy, layout)
    axes = tuple(range(xl.ndim - 1))
    scale = np.abs(gamma) / np.sqrt(var + eps)
    xhat = np.abs(xl - mean) * np.sqrt(1 / (var + eps))
    m = max(len(xl.reshape(-1, xl.shape[-1])), 1)
    y = np.max(np.abs(xl) * scale + np.abs(mean) * scale, initial=0.0)
    dx = np.max(scale * (np.abs(g) + np.abs(g).sum(axis=axes) / m +
                         xhat * np.abs(g * xhat).sum(axis=axes) / m), initial=0.0)
    return y, dx, np.max(np.abs(g * xhat).sum(axis=axes), initial=0.0), \
        np.max(np.abs(g).sum(axis=axes), initial=0.0)


@pytest.mark.parametrize("shape", BN_SHAPES, ids=bn_id)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_train_matches_reference(dtype, layout, shape, rng):
    x, dy, gamma, beta = bn_inputs(rng, shape, layout, dtype)
    y, mean, var = fastconv.batch_norm_train(x, gamma, beta, layout=layout)
    y_ref, mean_ref, var_ref = ref.batch_norm_train(x, gamma, beta, layout=layout)
    assert mean.dtype == var.dtype == np.float64
    np.testing.assert_allclose(mean, mean_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(var, var_ref, rtol=1e-12, atol=1e-12)
    mags = bn_magnitudes(x, dy, gamma, mean_ref, var_ref, layout)
    assert_close(y, y_ref, mags[0])
    got = fastconv.batch_norm_backward(dy, x, mean, var, gamma, layout=layout)
    want = ref.batch_norm_backward(dy, x, mean_ref, var_ref, gamma, layout=layout)
    for g, r, m in zip(got, want, mags[1:]):
        assert_close(g, r, m)


@pytest.mark.parametrize("shape", BN_SHAPES, ids=bn_id)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_inference_matches_reference(dtype, layout, shape, rng):
    x, dy, gamma, beta = bn_inputs(rng, shape, layout, dtype)
    mean, var = rng.standard_normal(shape[-1]), rng.uniform(0.2, 4, shape[-1])
    y = fastconv.batch_norm(x, mean, var, gamma, beta, layout=layout)
    mags = bn_magnitudes(x, dy, gamma, mean, var, layout)
    assert_close(y, ref.batch_norm(x, mean, var, gamma, beta, layout=layout), mags[0])
    got = fastconv.batch_norm_backward(dy, x, mean, var, gamma, layout=layout, training=False)
    want = ref.batch_norm_backward(dy, x, mean, var, gamma, layout=layout, training=False)
    for g, r, m in zip(got, want, mags[1:]):
        assert_close(g, r, m)


@pytest.mark.parametrize("training", [True, False], ids=["train", "inference"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_batch_norm_backward_matches_finite_differences(layout, training, rng):
    x, dy, gamma, beta = bn_inputs(rng, (3, 2, 4, 5), layout, np.float64)
    mean, var = rng.standard_normal(5), rng.uniform(0.5, 2, 5)

    def loss():
        if training:
            y = fastconv.batch_norm_train(x, gamma, beta, eps=1e-3, layout=layout)[0]
        else:
            y = fastconv.batch_norm(x, mean, var, gamma, beta, eps=1e-3, layout=layout)
        return np.sum(y * dy)
    if training:
        _, mean, var = fastconv.batch_norm_train(x, gamma, beta, layout=layout)
    grads = fastconv.batch_norm_backward(dy, x, mean, var, gamma, eps=1e-3, layout=layout,
                                         training=training)
    for got, arr in zip(grads, (x, gamma, beta)):
        np.testing.assert_allclose(got, numeric_grad(loss, arr), atol=1e-6)


def test_batch_norm_normalises_each_channel(rng):
    x = rng.standard_normal((50, 3, 4, 6)) * 5 + 7
    y, _, _ = fastconv.batch_norm_train(x, np.ones(3), np.zeros(3), eps=0.0, layout="NCHW")
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-12)
