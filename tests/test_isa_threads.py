"""Every kernel set this CPU supports agrees with the reference, and results are
bit-identical for 1 and 2 threads."""
import numpy as np
import pytest

import fastconv
from fastconv import _config
from fastconv import reference as ref
from helpers import (CONV_CASES, assert_close, assert_conv_backward_close, conv_inputs, conv_kwargs,
                     isa, rand, requires_openmp, requires_several_isas, run_python, threads)

ISAS = _config.supported_isas()
# a few cases that cover edges, groups, strides and several GEMM blocks
CASES = [CONV_CASES[i] for i in (1, 6, 7, 9, 15, 16, 17)]


def run_all(rng_seed=0):
    """Results of every op on fixed inputs (float32 and float64)."""
    rng = np.random.default_rng(rng_seed)
    results = []
    for dtype in (np.float32, np.float64):
        for case in CASES:
            x, w, b = conv_inputs(case, dtype, rng)
            kw = conv_kwargs(case)
            y = fastconv.conv2d(x, w, b, activation="relu", **kw)
            results.append(y)
            results.extend(fastconv.conv2d_backward(rand(rng, y.shape, dtype), x, w, **kw))
            for algorithm in ("gemm", "direct", "winograd", "inplace", "depthwise"):   # each, whichever "auto" picked
                plan = fastconv.conv2d_plan(x.shape, w.shape, dtype=dtype, algorithm=algorithm, **kw)
                if all(p["algorithm"] is not None for p in plan.values()):   # where it applies
                    y = fastconv.conv2d(x, w, b, algorithm=algorithm, **kw)
                    results.append(y)
                    results.extend(fastconv.conv2d_backward(rand(rng, y.shape, dtype), x, w,
                                                            algorithm=algorithm, **kw))
        # depthwise, batch 1: output rows shared among threads; dw in fixed chunks
        x, w = rand(rng, (1, 29, 30, 40), dtype), rand(rng, (3, 3, 1, 80), dtype)
        y = fastconv.conv2d(x, w, padding=1, stride=2, groups=40)
        results.append(y)
        results.extend(fastconv.conv2d_backward(rand(rng, y.shape, dtype), x, w, padding=1,
                                                stride=2, groups=40))
        # Winograd over several tile blocks (blocks go to threads)
        x, w = rand(rng, (2, 47, 48, 32), dtype), rand(rng, (3, 3, 32, 40), dtype)
        results.append(fastconv.conv2d(x, w, padding=1, algorithm="winograd"))
        # Winograd on one tile block, which the threads share (its tiles and its GEMMs), dx too
        x, w = rand(rng, (1, 13, 21, 24), dtype), rand(rng, (3, 3, 24, 20), dtype)
        y = fastconv.conv2d(x, w, padding=1, algorithm="winograd")
        results.append(y)
        results.extend(fastconv.conv2d_backward(rand(rng, y.shape, dtype), x, w, padding=1,
                                                algorithm="winograd"))
        a, bm = rand(rng, (301, 517), dtype), rand(rng, (517, 263), dtype)
        results.append(fastconv.matmul(a, bm))
        results.append(fastconv.gemm(a, a, alpha=0.5, trans_b=True))
        results.append(fastconv.matmul(rand(rng, (40, 9, 7), dtype), rand(rng, (7, 5), dtype)))
        x = rand(rng, (4, 33, 31, 19), dtype)
        for kind in ("max", "avg"):
            y = getattr(fastconv, f"{kind}_pool2d")(x, 3, 2, 1)
            results.append(y)
            results.append(getattr(fastconv, f"{kind}_pool2d_backward")(rand(rng, y.shape, dtype), x, 3, 2, 1))
        results.append(fastconv.global_avg_pool2d(x))
        # one image in bands of rows (the pooling fast path), channels past the vector blocks
        x = rand(rng, (1, 41, 37, 85), dtype)
        for kind, args in (("max", (3, 2, 1)), ("max", (2, 2, 0)), ("avg", (3, 2, 1))):
            y = getattr(fastconv, f"{kind}_pool2d")(x, *args)
            results.append(y)
            results.append(getattr(fastconv, f"{kind}_pool2d_backward")(rand(rng, y.shape, dtype),
                                                                         x, *args))
        # max backward of one image: channel blocks go to threads (150: past one block of
        # four vectors at every width, and a block ending in single vectors and a tail)
        x = rand(rng, (1, 23, 21, 150), dtype)
        y = fastconv.max_pool2d(x, 3, 2, 1)
        results.append(fastconv.max_pool2d_backward(rand(rng, y.shape, dtype), x, 3, 2, 1))
        z = rand(rng, (300, 257), dtype)
        results += [fastconv.sigmoid(z), fastconv.tanh(z), fastconv.softmax(z)]
    return results


@pytest.mark.parametrize("name", ISAS)
def test_each_isa_matches_reference(name, rng):
    with isa(name):
        assert _config.active_isa() == name
        for dtype in (np.float32, np.float64):
            for case in CASES:
                x, w, b = conv_inputs(case, dtype, rng)
                kw = conv_kwargs(case)
                mag = ref.conv2d(np.abs(x), np.abs(w), np.abs(b), **kw)
                assert_close(fastconv.conv2d(x, w, b, **kw), ref.conv2d(x, w, b, **kw), mag)
                dy = rand(rng, ref.conv2d(x, w, **kw).shape, dtype)
                got = fastconv.conv2d_backward(dy, x, w, **kw)
                assert_conv_backward_close(got, dy, x, w, **kw)
            for m, k, n in [(1, 1, 1), (13, 7, 35), (100, 517, 70), (37, 1, 129)]:
                a, bm = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype)
                assert_close(fastconv.matmul(a, bm), ref.matmul(a, bm), np.abs(a) @ np.abs(bm))


@requires_openmp
@pytest.mark.parametrize("name", ISAS)
def test_results_do_not_depend_on_thread_count(name):
    with isa(name):
        with threads(1):
            one = run_all()
        with threads(2):
            two = run_all()
    assert len(one) == len(two) > 0
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


@requires_several_isas
def test_isas_agree(rng):
    outputs = {}
    for name in ISAS:
        with isa(name):
            outputs[name] = run_all()
    first = outputs[ISAS[0]]
    for name in ISAS[1:]:
        assert len(outputs[name]) == len(first) > 0
        for a, b in zip(first, outputs[name]):
            assert_close(b, a, np.max(np.abs(a), initial=1.0) * 10)


@pytest.mark.parametrize("name", ISAS)
def test_fastconv_isa_environment_variable(name):
    proc = run_python("-c", "import fastconv; print(fastconv.show_config('dicts')['kernels'])",
                       FASTCONV_ISA=name)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == name


def test_bad_fastconv_isa_is_a_clear_error():
    proc = run_python("-c", "import fastconv", FASTCONV_ISA="sse9")
    assert proc.returncode != 0
    assert "FASTCONV_ISA='sse9'" in proc.stderr and "unknown kernel set" in proc.stderr


def test_omp_num_threads_is_honoured():
    proc = run_python("-c", "import fastconv; print(fastconv.get_num_threads())", OMP_NUM_THREADS="3")
    assert proc.returncode == 0, proc.stderr
    expected = "3" if fastconv.show_config("dicts")["openmp"] else "1"
    assert proc.stdout.strip() == expected
