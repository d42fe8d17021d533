"""Best-of timing for the bench scripts that run outside pytest-benchmark: the
fastest call is the least disturbed one on a shared machine."""
import time


def best_time(fn, budget=0.0, min_calls=3):
    """Seconds of the fastest call of fn, after one warm-up call: at least
    min_calls calls, and more until budget seconds have passed."""
    fn()
    times, start = [], time.perf_counter()
    while len(times) < min_calls or time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)
