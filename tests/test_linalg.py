"""matmul and gemm against the NumPy reference."""
import numpy as np
import pytest

import fastconv
from fastconv import reference as ref
from helpers import DTYPES, assert_close, rand, threads

SHAPES = [(1, 1, 1), (3, 5, 7), (13, 1, 17), (1, 31, 9), (37, 29, 41), (64, 64, 64),
          (97, 385, 33), (250, 70, 530), (12, 0, 5), (0, 4, 3), (5, 4, 0)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mkn", SHAPES, ids=lambda mkn: "m{}-k{}-n{}".format(*mkn))
def test_matmul_2d(mkn, dtype, rng):
    m, k, n = mkn
    a, b = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype)
    assert_close(fastconv.matmul(a, b), ref.matmul(a, b), np.abs(a) @ np.abs(b))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layouts", ["NN", "TN", "NT", "TT", "strided"])
def test_matmul_operand_layouts(layouts, dtype, rng):
    a, b = rand(rng, (45, 70), dtype), rand(rng, (70, 38), dtype)
    if layouts == "strided":
        a = rand(rng, (90, 140), dtype)[::2, ::-2]
        b = rand(rng, (70, 76), dtype)[:, 1::2]
    else:
        a = np.asfortranarray(a) if layouts[0] == "T" else a
        b = np.asfortranarray(b) if layouts[1] == "T" else b
    assert_close(fastconv.matmul(a, b), ref.matmul(a, b), np.abs(a) @ np.abs(b))


@pytest.mark.parametrize("shapes", [((4, 3, 5), (5, 2)), ((2, 1, 3, 5), (4, 5, 6)),
                                    ((5,), (5, 3)), ((3, 5), (5,)), ((5,), (5,)),
                                    ((7, 1, 4), (1, 4, 2)), ((0, 3, 4), (4, 2)),
                                    ((64, 8, 8), (64, 8, 8))],
                         ids=lambda shapes: "@".join("x".join(map(str, s)) for s in shapes))
def test_matmul_batched_and_vectors(shapes, rng):
    a, b = rand(rng, shapes[0], np.float64), rand(rng, shapes[1], np.float64)
    out = fastconv.matmul(a, b)
    expected = np.matmul(a, b)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trans_a", [False, True], ids=["a", "aT"])
@pytest.mark.parametrize("trans_b", [False, True], ids=["b", "bT"])
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (2.5, 0.0), (1.0, 1.0), (-0.5, 2.0)],
                         ids=["alpha1-beta0", "alpha2.5-beta0", "alpha1-beta1", "alpha-0.5-beta2"])
def test_gemm(alpha, beta, trans_a, trans_b, dtype, rng):
    m, k, n = 33, 47, 29
    a = rand(rng, (k, m) if trans_a else (m, k), dtype)
    b = rand(rng, (n, k) if trans_b else (k, n), dtype)
    c = rand(rng, (m, n), dtype)
    out = fastconv.gemm(a, b, c, alpha=alpha, beta=beta, trans_a=trans_a, trans_b=trans_b)
    expected = ref.gemm(a, b, c, alpha=alpha, beta=beta, trans_a=trans_a, trans_b=trans_b)
    assert_close(out, expected, abs(alpha) * 50 + abs(beta) * 5)


def test_gemm_beta_zero_ignores_nan_in_c_and_c_broadcasts(rng):
    a, b = rand(rng, (4, 3), np.float64), rand(rng, (3, 5), np.float64)
    c = np.full((4, 5), np.nan)
    np.testing.assert_allclose(fastconv.gemm(a, b, c), a @ b, atol=1e-12)
    bias = rand(rng, (5,), np.float64)
    np.testing.assert_allclose(fastconv.gemm(a, b, bias, beta=1.0), a @ b + bias, atol=1e-12)


def test_inputs_not_modified(rng):
    a, b, c = rand(rng, (8, 8), np.float32), rand(rng, (8, 8), np.float32), rand(rng, (8, 8), np.float32)
    copies = a.copy(), b.copy(), c.copy()
    fastconv.gemm(a, b, c, alpha=2.0, beta=3.0)
    for arr, before in zip((a, b, c), copies):
        np.testing.assert_array_equal(arr, before)


def test_integer_inputs_give_float64(rng):
    a = rng.integers(-5, 5, (6, 4))
    b = rng.integers(-5, 5, (4, 3))
    out = fastconv.matmul(a, b)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, a @ b)


def check_product_on_1_and_2_threads(a, b):
    """matmul(a, b): the same bits on 1 and 2 threads, close to the float64 product."""
    with threads(1):
        one = fastconv.matmul(a, b)
    with threads(2):
        two = fastconv.matmul(a, b)
    np.testing.assert_array_equal(one, two)
    assert_close(one, (a.astype(np.float64) @ b).astype(a.dtype), np.max(np.abs(a) @ np.abs(b)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_few_row_products_read_b_in_place_on_every_edge(dtype, rng):
    # m <= 64 reads B in place: full column panels in place, the last partial
    # one packed; depths past one cache block; the bits do not depend on threads
    for m in (1, 5, 13, 64):
        for n in (1, 33, 100):
            for k in (3, 1100):
                check_product_on_1_and_2_threads(rand(rng, (m, k), dtype), rand(rng, (k, n), dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_packed_b_by_rows_on_every_edge(dtype, rng):
    """Row-major B packed row by row into every panel of a block: few rows
    with B's rows a multiple of 512 bytes apart (packed, not read in place: a
    contiguous B and a column slice of a wider one), more rows than the
    in-place limit, a last panel of 1..NR-1 columns, depths past one cache
    block; the bits do not depend on threads."""
    row = 512 // np.dtype(dtype).itemsize   # values in 512 bytes
    for m in (3, 40, 70):
        for n, width in ((row, row), (33, row), (row + 5, 2 * row), (7, 7)):
            for k in (2, 1100):
                a = rand(rng, (m, k), dtype)
                b = np.zeros((k, width), dtype)[:, :n]
                b[:] = rand(rng, (k, n), dtype)
                check_product_on_1_and_2_threads(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_row_products_stream_b_by_rows(dtype, rng):
    """m = 1 with row-major B: B's rows streamed in order, in up to eight
    chunks of at least 256 rows whose partial sums are added in order;
    alpha, beta, a transposed A, bias and ReLU; the bits do not depend on threads."""
    for m in (1, 2):   # 2: the micro-kernels, the same answer
        for n, k in ((1, 5000), (300, 3), (300, 600), (257, 4500)):
            a, b = rand(rng, (k, m), dtype).T, rand(rng, (k, n), dtype)   # A strided
            c = rand(rng, (m, n), dtype)
            with threads(1):
                one = fastconv.gemm(a, b, c, alpha=-0.5, beta=2.0)
            with threads(2):
                two = fastconv.gemm(a, b, c, alpha=-0.5, beta=2.0)
            np.testing.assert_array_equal(one, two)
            want = -0.5 * (a.astype(np.float64) @ b) + 2.0 * c
            assert_close(one, want.astype(dtype), 0.5 * np.max(np.abs(a) @ np.abs(b)) + 2 * np.abs(c))
            bias = rand(rng, (n,), dtype)
            got = fastconv.linear(np.ascontiguousarray(a), b, bias, activation="relu")
            want = np.maximum(a.astype(np.float64) @ b + bias, 0)
            assert_close(got, want.astype(dtype), np.max(np.abs(a) @ np.abs(b)) + np.abs(bias))
