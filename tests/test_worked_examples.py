"""The course's two worked examples, through the reference and fastconv."""
import numpy as np
import pytest

import fastconv
from fastconv import reference as ref

IMAGE = np.array([[3, 0, 1, 2, 7, 4],
                  [1, 5, 8, 9, 3, 1],
                  [2, 7, 2, 5, 1, 3],
                  [0, 1, 3, 1, 7, 8],
                  [4, 2, 1, 6, 2, 8],
                  [2, 4, 5, 2, 3, 9]], dtype=np.float64)
VERTICAL_EDGE = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], dtype=np.float64)
EDGE_RESULT = np.array([[-5, -4, 0, 8],
                        [-10, -2, 2, 3],
                        [0, -2, -4, -7],
                        [-3, -2, -3, -16]], dtype=np.float64)
POOL_INPUT = np.array([[1, 3, 2, 1], [2, 9, 1, 1], [1, 3, 2, 3], [5, 6, 1, 2]], dtype=np.float64)


@pytest.mark.parametrize("impl", [ref, fastconv], ids=["reference", "fastconv"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vertical_edge_detector(impl, dtype):
    x = IMAGE.astype(dtype)[None, :, :, None]
    w = VERTICAL_EDGE.astype(dtype)[:, :, None, None]
    y = impl.conv2d(x, w)
    assert y[0, 0, 0, 0] == -5
    np.testing.assert_array_equal(y[0, :, :, 0], EDGE_RESULT)


@pytest.mark.parametrize("impl", [ref, fastconv], ids=["reference", "fastconv"])
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_max_pool_example(impl, layout):
    x = POOL_INPUT[None, :, :, None] if layout == "NHWC" else POOL_INPUT[None, None]
    y = impl.max_pool2d(x, 2, 2, layout=layout)
    np.testing.assert_array_equal(y.reshape(2, 2), [[9, 2], [6, 3]])


def test_reference_conv_matches_direct_loops(rng):
    # the oracle itself against the definition, written as plain loops
    x = rng.standard_normal((2, 7, 6, 4))
    w = rng.standard_normal((3, 2, 2, 6))
    y = ref.conv2d(x, w, stride=(2, 1), padding=((1, 0), (2, 1)), dilation=(1, 2), groups=2)
    xp = np.pad(x, ((0, 0), (1, 0), (2, 1), (0, 0)))
    expected = np.zeros_like(y)
    for n in range(2):
        for i in range(y.shape[1]):
            for j in range(y.shape[2]):
                for k in range(6):
                    g = k // 3
                    for r in range(3):
                        for s in range(2):
                            for c in range(2):
                                expected[n, i, j, k] += (xp[n, 2 * i + r, j + 2 * s, 2 * g + c]
                                                         * w[r, s, c, k])
    np.testing.assert_allclose(y, expected, atol=1e-12)


def test_reference_pool_backward_first_maximum():
    x = np.array([[1.0, 5.0], [5.0, 2.0]])[None, :, :, None]
    dx = ref.max_pool2d_backward(np.ones((1, 1, 1, 1)), x, 2)
    np.testing.assert_array_equal(dx[0, :, :, 0], [[0, 1], [0, 0]])
