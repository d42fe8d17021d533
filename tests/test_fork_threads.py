"""Fork safety and thread limits.  Each check runs in a new interpreter with a
deadline: a child forked after fastconv ran threads used to wait forever inside
GNU OpenMP, and a hang must fail the test, not stall the suite."""
import textwrap

import pytest

import fastconv
from fastconv import _config
from helpers import requires_openmp, run_python

DEADLINE = 120     # seconds for a whole child interpreter; each wait inside has its own

# Warm up fastconv's thread pool in the parent, then fork.
PRELUDE = textwrap.dedent("""
    import multiprocessing as mp, threading
    import numpy as np
    import fastconv
    from fastconv import _config, models
    fastconv.set_num_threads(2)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 20, 21, 8)).astype(np.float32)
    w = rng.standard_normal((3, 3, 8, 12)).astype(np.float32)

    def work(_=None):
        return (fastconv.conv2d(x, w, padding=1, activation="relu"),
                fastconv.conv2d(x, w, padding=1, algorithm="winograd"),
                fastconv.max_pool2d(x, 3, 2, 1), fastconv.matmul(x.reshape(-1, 8), w[0, 0]),
                fastconv.get_num_threads(), _config.forked_serial())

    def check(got, threads=1, serial=True):
        for a, b in zip(got[:4], expected[:4]):
            np.testing.assert_array_equal(a, b)      # results do not depend on threads
        assert got[4] == threads and got[5] == serial, got[4:]
""")


WARM_UP = """
expected = work()
assert expected[4] == 2 and not expected[5]
"""


def run_script(body, warm_up=WARM_UP):
    proc = run_python("-c", PRELUDE + warm_up + textwrap.dedent(body), timeout=DEADLINE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "child-ok" in proc.stdout, proc.stdout
    return proc


@requires_openmp
def test_a_process_forked_after_threads_ran_computes_on_one_thread():
    run_script("""
        ctx = mp.get_context("fork")
        queue = ctx.Queue()
        # daemon: killed when this script exits, also when it fails
        child = ctx.Process(target=lambda: queue.put(work()), daemon=True)
        child.start()
        got = queue.get(timeout=60)
        child.join(60)
        assert child.exitcode == 0, child.exitcode
        check(got)
        # the parent keeps its threads
        assert fastconv.get_num_threads() == 2 and not _config.forked_serial()
        print("child-ok")
    """)


@requires_openmp
def test_a_fork_started_pool_maps_conv2d():
    run_script("""
        with mp.get_context("fork").Pool(2) as pool:
            results = pool.map_async(work, range(4)).get(timeout=60)
        for got in results:
            check(got)
        print("child-ok")
    """)


@requires_openmp
def test_a_model_predicts_in_a_forked_child():
    run_script("""
        model = models.lenet5(num_classes=5)
        images = np.random.default_rng(1).random((16, 32, 32, 1), np.float32)
        want = model.predict(images)
        with mp.get_context("fork").Pool(1) as pool:
            got = pool.apply_async(model.predict, (images,)).get(timeout=60)
        np.testing.assert_array_equal(got, want)
        print("child-ok")
    """)


@requires_openmp
def test_a_child_forked_from_a_thread_that_never_ran_threads_keeps_them():
    # the pool belongs to the side thread; the forking main thread owns none
    run_script("""
        results = []
        side = threading.Thread(
            target=lambda: (fastconv.set_num_threads(2), results.append(work())))
        side.start(); side.join()
        expected = results[0]
        assert expected[4] == 2 and not expected[5]
        ctx = mp.get_context("fork")
        queue = ctx.Queue()
        child = ctx.Process(target=lambda: queue.put((fastconv.set_num_threads(2), work())[1]),
                            daemon=True)
        child.start()
        got = queue.get(timeout=60)
        child.join(60)
        check(got, threads=2, serial=False)
        print("child-ok")
    """, warm_up="")


def test_set_num_threads_rejects_more_than_the_bound():
    bound = _config.thread_bound()
    assert 4 <= bound <= 4 * _config._native.usable_cores()
    with pytest.raises(ValueError, match=rf"n must be at most {bound} \(4 x the \d+ usable cores"):
        fastconv.set_num_threads(bound + 1)
    with pytest.raises(ValueError, match="got 100000"):
        fastconv.set_num_threads(100000)
    old = fastconv.get_num_threads()
    fastconv.set_num_threads(bound)
    fastconv.set_num_threads(old)


@requires_openmp
@pytest.mark.parametrize("value,message", [
    ("abc", "is not a positive integer"), ("0", "is not a positive integer"),
    ("2,x", "is not a positive integer"), ("100000", "asks for more threads than"),
])
def test_a_bad_omp_num_threads_warns_and_computes(value, message):
    script = textwrap.dedent("""
        import warnings
        warnings.simplefilter("always")
        with warnings.catch_warnings(record=True) as caught:
            import fastconv
        import numpy as np
        from fastconv import _config, reference
        texts = [str(w.message) for w in caught if w.category is RuntimeWarning]
        print("WARN", texts)
        n = fastconv.get_num_threads()
        assert 1 <= n <= _config.thread_bound(), n
        x = np.random.default_rng(0).random((4, 30, 30, 16), np.float32)
        w = np.random.default_rng(1).random((3, 3, 16, 32), np.float32)
        np.testing.assert_allclose(fastconv.conv2d(x, w), reference.conv2d(x, w), rtol=1e-4)
        print("child-ok")
    """)
    proc = run_python("-c", script, timeout=DEADLINE, OMP_NUM_THREADS=value)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "child-ok" in proc.stdout
    assert f"OMP_NUM_THREADS={value!r} {message}" in proc.stdout
