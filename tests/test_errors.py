"""Every bad input raises ValueError/TypeError naming the argument, before any work."""
import re

import numpy as np
import pytest

import fastconv
from fastconv import nn

X = np.zeros((2, 8, 8, 4), np.float32)
W = np.zeros((3, 3, 4, 6), np.float32)
DY = np.zeros((2, 6, 6, 6), np.float32)

CASES = [
    # conv2d
    (lambda: fastconv.conv2d(X, np.zeros((3, 3, 3, 8))), ValueError,
     re.escape("conv2d: x has 4 channels but w expects 3 (w.shape=(3, 3, 3, 8), layout='NHWC', "
               "groups=1)")),
    (lambda: fastconv.conv2d(X[0, 0], W), ValueError, "conv2d: x must be 3-D .* got 2-D"),
    (lambda: fastconv.conv2d(X, W[0]), ValueError, "conv2d: w must be 4-D, got 3-D"),
    (lambda: fastconv.conv2d(X, W, stride=0), ValueError, "conv2d: stride must be >= 1, got 0"),
    (lambda: fastconv.conv2d(X, W, stride=(1, -2)), ValueError, r"conv2d: stride must be >= 1"),
    (lambda: fastconv.conv2d(X, W, stride=1.5), TypeError, "conv2d: stride must be an integer"),
    (lambda: fastconv.conv2d(X, W, dilation=0), ValueError, "conv2d: dilation must be >= 1"),
    (lambda: fastconv.conv2d(X, W, groups=0), ValueError, "conv2d: groups must be >= 1, got 0"),
    (lambda: fastconv.conv2d(X, W, groups=3), ValueError,
     "conv2d: groups=3 does not divide the 4 input channels"),
    (lambda: fastconv.conv2d(X, np.zeros((3, 3, 2, 5)), groups=2), ValueError,
     "conv2d: groups=2 does not divide the 5 output channels"),
    (lambda: fastconv.conv2d(X, W, padding=-1), ValueError, "conv2d: padding must be non-negative"),
    (lambda: fastconv.conv2d(X, W, padding=((1, -1), (0, 0))), ValueError,
     "conv2d: padding must be non-negative"),
    (lambda: fastconv.conv2d(X, W, padding="full"), ValueError,
     "conv2d: padding must be 'same', 'valid' or integers, got 'full'"),
    (lambda: fastconv.conv2d(X, np.zeros((9, 3, 4, 6))), ValueError,
     r"conv2d: the kernel \(9x3 after dilation\) is larger than the padded input \(8x8\)"),
    (lambda: fastconv.conv2d(X, W, dilation=4), ValueError, "larger than the padded input"),
    (lambda: fastconv.conv2d(X, W, layout="NWHC"), ValueError,
     "conv2d: layout must be 'NHWC' or 'NCHW', got 'NWHC'"),
    (lambda: fastconv.conv2d(X, W, np.zeros(5)), ValueError, r"conv2d: b must have shape \(6,\)"),
    (lambda: fastconv.conv2d(X, W, activation="gelu"), ValueError, "conv2d: activation must be"),
    (lambda: fastconv.conv2d(X.astype(np.complex64), W), TypeError, "conv2d: x has dtype complex64"),
    (lambda: fastconv.conv2d(X, W.astype(object)), TypeError, "conv2d: w has dtype object"),
    (lambda: fastconv.conv2d(X, W.astype(np.float16)), TypeError, "conv2d: w has dtype float16"),
    (lambda: fastconv.conv2d(X, W, out=np.zeros((2, 6, 6, 5), np.float32)), ValueError,
     r"conv2d: out has shape \(2, 6, 6, 5\), expected \(2, 6, 6, 6\)"),
    (lambda: fastconv.conv2d(X, W, out=np.zeros((2, 6, 6, 6))), TypeError,
     "conv2d: out has dtype float64, expected float32"),
    (lambda: fastconv.conv2d(X, W, out=[1]), TypeError, "conv2d: out must be a NumPy array"),
    (lambda: fastconv.conv2d([[1, 2], [3]], W), TypeError, "conv2d: x cannot be converted"),
    (lambda: fastconv.conv2d(np.broadcast_to(np.float32(0), (1, 2**20, 2**20, 1)), W[:1, :1, :1],
                             padding=2**40), ValueError, "conv2d: the output of shape .* is too large"),
    # conv2d_backward
    (lambda: fastconv.conv2d_backward(DY[:, :5], X, W), ValueError,
     r"conv2d_backward: dy has shape \(2, 5, 6, 6\), but the convolution's output has shape "
     r"\(2, 6, 6, 6\)"),
    (lambda: fastconv.conv2d_backward(DY, X, W, stride=0), ValueError,
     "conv2d_backward: stride must be >= 1"),
    # pooling
    (lambda: fastconv.max_pool2d(X, 0), ValueError, "max_pool2d: size must be >= 1, got 0"),
    (lambda: fastconv.max_pool2d(X, 2, 0), ValueError, "max_pool2d: stride must be >= 1"),
    (lambda: fastconv.avg_pool2d(X, 9), ValueError,
     r"avg_pool2d: the window 9x9 is larger than the padded input \(8x8\)"),
    (lambda: fastconv.max_pool2d(X, 2, padding=2), ValueError,
     "max_pool2d: padding .* must be smaller than the window size"),
    (lambda: fastconv.max_pool2d(X, 2, padding=-1), ValueError, "max_pool2d: padding must be non-negative"),
    (lambda: fastconv.max_pool2d(X, 2, layout="CHW"), ValueError, "max_pool2d: layout must be"),
    (lambda: fastconv.max_pool2d(X[0, 0], 2), ValueError, "max_pool2d: x must be 3-D"),
    (lambda: fastconv.max_pool2d_backward(np.zeros((2, 3, 3, 4)), X, 2), ValueError,
     r"max_pool2d_backward: dy has shape \(2, 3, 3, 4\), but the pooling output has shape "
     r"\(2, 4, 4, 4\)"),
    (lambda: fastconv.avg_pool2d_backward(np.zeros((2, 3, 3, 4)), X, 2), ValueError,
     "avg_pool2d_backward: dy has shape"),
    (lambda: fastconv.global_avg_pool2d(np.zeros((2, 0, 3, 4))), ValueError,
     "global_avg_pool2d: x has no pixels to average"),
    (lambda: fastconv.global_avg_pool2d(np.zeros((2, 3))), ValueError, "global_avg_pool2d: x must be 3-D"),
    # layers' output shapes use the same window geometry
    (lambda: nn.Conv2D(3, 4, 9).output_shape((8, 7, 3)), ValueError,
     r"Conv2D: the kernel \(9x9 after dilation\) is larger than the padded input \(8x7\)"),
    (lambda: nn.MaxPool2D(2, padding=2).output_shape((8, 7, 3)), ValueError,
     "MaxPool2D: padding .* must be smaller than the window size"),
    (lambda: nn.AvgPool2D(9).output_shape((8, 7, 3)), ValueError,
     r"AvgPool2D: the window 9x9 is larger than the padded input \(8x7\)"),
    # matmul / gemm
    (lambda: fastconv.matmul(np.zeros((3, 4)), np.zeros((5, 2))), ValueError,
     r"matmul: a has 4 columns but b has 5 rows \(a.shape=\(3, 4\), b.shape=\(5, 2\)\)"),
    (lambda: fastconv.matmul(np.zeros((2, 3, 4)), np.zeros((3, 4, 2))), ValueError,
     "matmul: the batch axes of a.shape=.* do not broadcast"),
    (lambda: fastconv.matmul(np.float64(3.0), np.zeros(3)), ValueError, "matmul: operands must be at least 1-D"),
    (lambda: fastconv.matmul(np.zeros((2, 2), complex), np.zeros((2, 2))), TypeError,
     "matmul: a has dtype complex128"),
    (lambda: fastconv.gemm(np.zeros((3, 4)), np.zeros((3, 4))), ValueError,
     "gemm: op.a. has 4 columns but op.b. has 3 rows"),
    (lambda: fastconv.gemm(np.zeros(3), np.zeros((3, 4))), ValueError, "gemm: a must be 2-D"),
    (lambda: fastconv.gemm(np.zeros((2, 3)), np.zeros((3, 4)), np.zeros((3, 3)), beta=1.0), ValueError,
     r"gemm: c of shape \(3, 3\) does not broadcast to the result shape \(2, 4\)"),
    (lambda: fastconv.gemm(np.zeros((2, 3)), np.zeros((3, 4)), alpha=1j), TypeError,
     "gemm: alpha must be a real number"),
    # linear
    (lambda: fastconv.linear(np.zeros((2, 3)), np.zeros((4, 5))), ValueError,
     r"linear: x has 3 features but w expects 4 \(x.shape=\(2, 3\), w.shape=\(4, 5\)\)"),
    (lambda: fastconv.linear(np.zeros(3), np.zeros((3, 5))), ValueError,
     r"linear: x must be 2-D \(N, in_features\), got 1-D"),
    (lambda: fastconv.linear(np.zeros((2, 3)), np.zeros((3, 5, 1))), ValueError,
     "linear: w must be 2-D"),
    (lambda: fastconv.linear(np.zeros((2, 3)), np.zeros((3, 5)), np.zeros(4)), ValueError,
     r"linear: b must have shape \(5,\) to match w, got \(4,\)"),
    (lambda: fastconv.linear(np.zeros((2, 3)), np.zeros((3, 5)), activation="elu"), ValueError,
     "linear: activation must be"),
    (lambda: fastconv.linear(np.zeros((2, 3), complex), np.zeros((3, 5))), TypeError,
     "linear: x has dtype complex128"),
    (lambda: fastconv.linear(np.zeros((2, 3)), np.zeros((3, 5)), np.zeros(5, object)), TypeError,
     "linear: b has dtype object"),
    (lambda: fastconv.linear_backward(np.zeros((2, 4)), np.zeros((2, 3)), np.zeros((3, 5))),
     ValueError, r"linear_backward: dy has shape \(2, 4\), but linear's output has shape \(2, 5\)"),
    (lambda: fastconv.linear_backward(np.zeros((2, 5)), np.zeros((2, 3)), np.zeros((3, 5)),
                                      activation="tanh"), ValueError,
     "linear_backward: y .linear's output. is needed to differentiate activation='tanh'"),
    (lambda: fastconv.linear_backward(np.zeros((2, 5)), np.zeros((2, 3)), np.zeros((3, 5)),
                                      np.zeros((5, 2)), activation="relu"), ValueError,
     r"linear_backward: y has shape \(5, 2\)"),
    # batch normalisation
    (lambda: fastconv.batch_norm(X, np.zeros(4), np.ones(4), np.ones(3), np.zeros(4)), ValueError,
     r"batch_norm: gamma must have shape \(4,\), one value per channel of x, got \(3,\)"),
    (lambda: fastconv.batch_norm(X, np.zeros(8), np.ones(4), np.ones(8), np.zeros(8),
                                 layout="NCHW"), ValueError,
     r"batch_norm: var must have shape \(8,\), one value per channel of x, got \(4,\)"),
    (lambda: fastconv.batch_norm(X, np.zeros(4), np.ones(4), np.ones(4), np.zeros(4), eps=-1),
     ValueError, "batch_norm: eps must be >= 0, got -1"),
    (lambda: fastconv.batch_norm(X, np.zeros(4), np.ones(4), np.ones(4), np.zeros(4), eps="a"),
     TypeError, "batch_norm: eps must be a real number"),
    (lambda: fastconv.batch_norm(X, np.zeros(4), np.ones(4), np.ones(4), np.zeros(4),
                                 layout="HWC"), ValueError, "batch_norm: layout must be"),
    (lambda: fastconv.batch_norm_train(np.zeros(4), np.ones(4), np.zeros(4)), ValueError,
     "batch_norm_train: x must be at least 2-D"),
    (lambda: fastconv.batch_norm_train(X[:0], np.ones(4), np.zeros(4)), ValueError,
     "batch_norm_train: x has no samples"),
    (lambda: fastconv.batch_norm_train(X, np.ones(4, complex), np.zeros(4)), TypeError,
     "batch_norm_train: gamma has dtype complex128"),
    (lambda: fastconv.batch_norm_backward(X[:1], X, np.zeros(4), np.ones(4), np.ones(4)),
     ValueError, r"batch_norm_backward: dy has shape \(1, 8, 8, 4\) but x has shape"),
    # activations
    (lambda: fastconv.relu(np.zeros(3, complex)), TypeError, "relu: x has dtype complex128"),
    (lambda: fastconv.relu_backward(np.zeros(3), np.zeros(4)), ValueError,
     r"relu_backward: dy has shape \(3,\) but x has shape \(4,\)"),
    (lambda: fastconv.sigmoid_backward(np.zeros(3), np.zeros(4)), ValueError,
     "sigmoid_backward: dy has shape .* but y has shape"),
    (lambda: fastconv.leaky_relu(np.zeros(3), alpha="a"), TypeError, "leaky_relu: alpha must be a real number"),
    (lambda: fastconv.softmax(np.zeros((2, 3)), axis=2), ValueError,
     "softmax: axis 2 is out of bounds for an array of dimension 2"),
    (lambda: fastconv.softmax(np.zeros((2, 3)), axis=1.0), TypeError, "softmax: axis must be an integer"),
    (lambda: fastconv.softmax_backward(np.zeros((2, 3)), np.zeros((3, 2))), ValueError,
     "softmax_backward: dy has shape"),
    # configuration
    (lambda: fastconv.set_num_threads(0), ValueError, "set_num_threads: n must be >= 1, got 0"),
    (lambda: fastconv.set_num_threads(1.5), TypeError, "set_num_threads: n must be an integer"),
    (lambda: fastconv.show_config(mode="x"), ValueError, "show_config: mode must be"),
]


@pytest.mark.parametrize("call,exc,message", CASES,
                         ids=[re.sub(r"\\(.)", r"\1", c[2])[:60] for c in CASES])
def test_bad_input_raises_with_a_clear_message(call, exc, message):
    with pytest.raises(exc, match=message):   # message is a regular expression
        call()


def test_read_only_out_is_rejected():
    out = np.zeros((2, 6, 6, 6), np.float32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="conv2d: out is read-only"):
        fastconv.conv2d(X, W, out=out)


def test_empty_batch_gives_empty_results():
    x = np.zeros((0, 8, 8, 4), np.float32)
    assert fastconv.conv2d(x, W).shape == (0, 6, 6, 6)
    assert fastconv.conv2d(x.transpose(0, 3, 1, 2), W.transpose(3, 2, 0, 1), layout="NCHW").shape == (0, 6, 6, 6)
    dx, dw, db = fastconv.conv2d_backward(np.zeros((0, 6, 6, 6), np.float32), x, W)
    assert dx.shape == x.shape and np.all(dw == 0) and np.all(db == 0)
    assert fastconv.max_pool2d(x, 2).shape == (0, 4, 4, 4)
    assert fastconv.global_avg_pool2d(x).shape == (0, 4)
    assert fastconv.matmul(np.zeros((0, 3)), np.zeros((3, 2))).shape == (0, 2)


def misaligned(arr):
    """A copy of arr whose data starts one byte past an aligned address."""
    raw = np.zeros(arr.nbytes + 1, np.uint8)
    out = np.frombuffer(raw.data, dtype=arr.dtype, count=arr.size, offset=1).reshape(arr.shape)
    out[...] = arr
    assert not out.flags.aligned
    return out


def test_misaligned_inputs_give_the_aligned_results(rng):
    # Dask can deserialise arrays at odd addresses; the kernels must not read
    # them in place (undefined behaviour, which UBSan reports in CI)
    x = rng.standard_normal((2, 9, 8, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    want = fastconv.conv2d(x, w, b, padding=1)
    got = fastconv.conv2d(misaligned(x), misaligned(w), misaligned(b), padding=1)
    np.testing.assert_array_equal(got, want)
    a = rng.standard_normal((5, 7))
    np.testing.assert_array_equal(fastconv.matmul(misaligned(a), misaligned(a.T.copy())),
                                  fastconv.matmul(a, a.T.copy()))


def test_byte_swapped_floats_give_the_native_results(rng):
    # '>f4' on a little-endian machine (arrays read from big-endian files):
    # computed in the native dtype, as NumPy does, not rejected
    x = rng.standard_normal((2, 9, 8, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    want = fastconv.conv2d(x, w, padding=1)
    swapped = [a.astype(a.dtype.newbyteorder()) for a in (x, w)]
    got = fastconv.conv2d(*swapped, padding=1)
    assert got.dtype == np.float32 and got.dtype.isnative
    np.testing.assert_array_equal(got, want)
    a = rng.standard_normal((5, 7))
    np.testing.assert_array_equal(fastconv.matmul(a.astype(a.dtype.newbyteorder()), a.T),
                                  fastconv.matmul(a, a.T))
    np.testing.assert_array_equal(fastconv.max_pool2d(swapped[0], 2),
                                  fastconv.max_pool2d(x, 2))
