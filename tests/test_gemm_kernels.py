"""Every GEMM micro-kernel on its edge tiles: m and n around the register tile
(MR x NR: 4x8 generic, 6x16 / 6x8 AVX2, 12x32 / 12x16 AVX-512), k around the
unroll and the KC blocking, A read in place or packed, transposed and strided
operands, alpha/beta, against the reference."""
import numpy as np
import pytest

import fastconv
from fastconv import _config
from fastconv import reference as ref
from helpers import DTYPES, assert_close, isa, rand, requires_openmp, threads

ISAS = _config.supported_isas()
MS = [1, 3, 5, 6, 7, 11, 12, 13, 25, 241, 250]
NS = [1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 65]
KS = [1, 2, 3, 5, 255, 256, 257, 383, 384, 385]


def check(a, b, **kw):
    out = fastconv.gemm(a, b, **kw) if kw else fastconv.matmul(a, b)
    expected = ref.gemm(a, b, **kw) if kw else ref.matmul(a, b)
    opa = a.T if kw.get("trans_a") else a
    opb = b.T if kw.get("trans_b") else b
    assert_close(out, expected, np.abs(opa) @ np.abs(opb) * max(1, abs(kw.get("alpha", 1))))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ISAS)
def test_edge_tiles(name, dtype, rng):
    with isa(name):
        for m in MS:
            for n in NS:
                for k in (1, 5, 385):
                    check(rand(rng, (m, k), dtype), rand(rng, (k, n), dtype))
        for k in KS:
            check(rand(rng, (13, k), dtype), rand(rng, (k, 33), dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ISAS)
def test_a_in_place_and_packed(name, dtype, rng):
    with isa(name):
        # rows 4 KiB apart are packed, others are read in place; a view with
        # a leading dimension larger than k is read in place too
        for k in (1024 if dtype == np.float32 else 512, 1000):
            check(rand(rng, (40, k), dtype), rand(rng, (k, 70), dtype))
        wide = rand(rng, (50, 300), dtype)
        check(wide[:, 7:130], rand(rng, (123, 45), dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ISAS)
def test_transposes_strides_alpha_beta(name, dtype, rng):
    with isa(name):
        for trans_a in (False, True):
            for trans_b in (False, True):
                for alpha, beta in ((1.0, 0.0), (-2.0, 0.0), (1.0, 1.0), (0.5, -3.0)):
                    m, k, n = 27, 389, 35
                    a = rand(rng, (k, m) if trans_a else (m, k), dtype)
                    b = rand(rng, (n, k) if trans_b else (k, n), dtype)
                    check(a, b, c=rand(rng, (m, n), dtype), alpha=alpha, beta=beta,
                          trans_a=trans_a, trans_b=trans_b)
        big = rand(rng, (80, 90), dtype)
        check(big[::3, ::-2], big[5:50, 1::2])


@requires_openmp
@pytest.mark.parametrize("name", ISAS)
def test_thread_invariance_on_uneven_blocks(name, rng):
    # row counts that split into different block sizes for 1 and 2 threads
    a, b = rand(rng, (12 * 41 + 7, 300), np.float32), rand(rng, (300, 77), np.float32)
    with isa(name):
        with threads(1):
            one = fastconv.matmul(a, b)
        with threads(2):
            two = fastconv.matmul(a, b)
    np.testing.assert_array_equal(one, two)


def right_and_same_on_1_and_2_threads(name, a, b, repeats=1):
    """a @ b on kernel set `name`: close to the reference, and the same bits
    on 2 threads (`repeats` times) as on 1."""
    with isa(name):
        with threads(1):
            one = fastconv.matmul(a, b)
        check(a, b)
        with threads(2):
            for _ in range(repeats):
                np.testing.assert_array_equal(fastconv.matmul(a, b), one)


@requires_openmp
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ISAS)
def test_few_row_products_whose_threads_pack_their_own_panels(name, dtype, rng):
    # One row block: each thread packs the panels it runs and moves on to the
    # next depth block without waiting; a short last depth block, several
    # column blocks (the last narrower: its panels split differently), B
    # packed (rows a multiple of 512 bytes apart) and read in place with a
    # partial last panel (n = 1000).  Repeated: a thread that wrote where
    # another still read showed in about one call in ten.
    for m, k, n in ((30, 1100, 1024), (30, 1100, 1000), (30, 700, 1600), (3, 512, 4096)):
        right_and_same_on_1_and_2_threads(name, rand(rng, (m, k), dtype), rand(rng, (k, n), dtype),
                                          repeats=20)


@requires_openmp
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ISAS)
def test_b_in_place_beyond_l2_runs_panel_by_panel(name, dtype, rng):
    # B read in place and larger than L2 (2.8 / 5.6 MB): each B panel meets
    # every A panel of the row block in turn, A's panels packed first (rows
    # 4 KiB apart) or read in place; partial last A tile and B panel, two
    # depth blocks; the same bits on 1 and 2 threads.
    for m, k, n in ((30, 700, 1000), (25, 1024, 700)):
        right_and_same_on_1_and_2_threads(name, rand(rng, (m, k), dtype), rand(rng, (k, n), dtype))


@requires_openmp
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ISAS)
def test_few_rows_streaming_b_rows(name, dtype, rng):
    # At most 8 rows of A with row-major B of at least 128 KiB and rows of
    # 256 bytes stream B's rows (gemm_rows): k around the 8-row passes and
    # the chunks (1, 2, 4 and 8 of them), n around the vector width, A
    # transposed, alpha/beta, bias and activation through linear; the same
    # bits on 1 and 2 threads.  Small products stay with the micro-kernels.
    with isa(name):
        for m in (1, 2, 5, 8):
            for k, n in ((7, 9), (255, 33), (333, 100), (520, 100), (1100, 1000), (2100, 64)):
                a, b = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype)
                with threads(1):
                    one = fastconv.matmul(a, b)
                check(a, b)
                with threads(2):
                    np.testing.assert_array_equal(fastconv.matmul(a, b), one)
        a, b, c = rand(rng, (900, 6), dtype), rand(rng, (900, 70), dtype), rand(rng, (6, 70), dtype)
        check(a, b, c=c, alpha=0.5, beta=-2.0, trans_a=True)
        x, w, bias = rand(rng, (4, 600), dtype), rand(rng, (600, 80), dtype), rand(rng, (80,), dtype)
        y = fastconv.linear(x, w, bias, activation="relu")
        assert_close(y, np.maximum(ref.matmul(x, w) + bias, 0), np.abs(x) @ np.abs(w) + np.abs(bias))
