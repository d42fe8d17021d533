"""The optimizers' compiled updates (csrc/optim.tmpl.h through fastconv._updates)
against the NumPy reference, in both dtypes, on contiguous and strided
parameters, and bit for bit the same on 1 and 2 threads."""
import numpy as np
import pytest

from fastconv import _updates, nn, reference
from helpers import same_bits_on_1_and_2_threads

SIZES = [1, 7, 100_003]                    # the last one is split among threads


def arrays(n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(n).astype(dtype) for _ in range(4)]


def tol(dtype):
    return dict(rtol=2e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_reference(dtype, n, momentum):
    w, g, v, _ = arrays(n, dtype)
    want_w, want_v = reference.sgd_update(w, g, v if momentum else None, 0.05, momentum)

    def step():
        w1, v1 = w.copy(), v.copy()
        _updates.sgd_update(w1, g, v1 if momentum else None, 0.05, momentum)
        return np.concatenate([w1, v1])
    got = same_bits_on_1_and_2_threads(step)
    np.testing.assert_allclose(got[:n], want_w, **tol(dtype))
    if momentum:
        np.testing.assert_allclose(got[n:], want_v, **tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("t", [1, 2, 50])
def test_adam_matches_reference(dtype, n, t):
    w, g, m, v = arrays(n, dtype, seed=t)
    v = np.abs(v)
    args = (t, 1e-3, 0.9, 0.999, 1e-7)
    want = reference.adam_update(w, g, m, v, *args)

    def step():
        w1, m1, v1 = w.copy(), m.copy(), v.copy()
        _updates.adam_update(w1, g, m1, v1, *args)
        return np.concatenate([w1, m1, v1])
    got = same_bits_on_1_and_2_threads(step)
    for part, expected in zip(np.split(got, 3), want):
        np.testing.assert_allclose(part, expected, **tol(dtype))


def test_strided_parameter_and_gradient_of_another_dtype():
    base = np.random.default_rng(1).standard_normal((6, 8)).astype(np.float32)
    w = base[:, ::2]                       # not contiguous: updated through a copy
    g = np.ones((6, 4), np.float64)
    want, _ = reference.sgd_update(w, g.astype(np.float32), None, 0.5, 0.0)
    _updates.sgd_update(w, g, None, 0.5, 0.0)
    np.testing.assert_allclose(base[:, ::2], want, rtol=1e-6)
    np.testing.assert_array_equal(base[:, 1::2], np.random.default_rng(1).standard_normal(
        (6, 8)).astype(np.float32)[:, 1::2])


def test_bad_parameters_are_rejected():
    with pytest.raises(TypeError, match="float32 or float64"):
        _updates.sgd_update(np.zeros(3, np.int32), np.zeros(3), None, 0.1, 0.0)
    ro = np.zeros(3, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _updates.sgd_update(ro, np.zeros(3), None, 0.1, 0.0)


@pytest.mark.parametrize("make", [lambda: nn.SGD(0.1, momentum=0.9), lambda: nn.Adam(0.01)])
def test_optimizers_follow_the_reference_over_steps(make):
    opt = make()
    layer = nn.Dense(5, 3)
    rng = np.random.default_rng(2)
    w, state = layer.params["W"].astype(np.float64), None
    for t in range(1, 4):
        g = rng.standard_normal(w.shape).astype(np.float32)
        layer.grads = {"W": g}
        opt.step([("W", layer, "W")])
        if isinstance(opt, nn.SGD):
            w, state = reference.sgd_update(w, g, state, 0.1, 0.9)
        else:
            m, v = state or (np.zeros_like(w), np.zeros_like(w))
            w, m, v = reference.adam_update(w, g, m, v, t, 0.01, 0.9, 0.999, 1e-7)
            state = (m, v)
        np.testing.assert_allclose(layer.params["W"], w, rtol=1e-5, atol=1e-6)
