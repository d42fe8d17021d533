"""python -m fastconv: print the configuration and a short timing table of
fastconv against the pure-NumPy reference on this machine."""
import argparse
import time

import numpy as np

import fastconv
from fastconv import reference as ref


def _median_time(fn, repeats):
    fn()                                    # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _cases(rng):
    f32 = np.float32
    x3 = rng.standard_normal((8, 28, 28, 32)).astype(f32)
    w3 = rng.standard_normal((3, 3, 32, 32)).astype(f32)
    x5 = rng.standard_normal((32, 32, 32, 1)).astype(f32)
    w5 = rng.standard_normal((5, 5, 1, 6)).astype(f32)
    dy3 = rng.standard_normal((8, 28, 28, 32)).astype(f32)
    xp = rng.standard_normal((8, 56, 56, 64)).astype(f32)
    a = rng.standard_normal((512, 512)).astype(f32)
    return [
        ("conv2d 3x3 8x28x28x32->32", lambda m: m.conv2d(x3, w3, padding=1)),
        ("conv2d 5x5 32x32x32x1->6 (LeNet)", lambda m: m.conv2d(x5, w5)),
        ("conv2d_backward 3x3 8x28x28x32", lambda m: m.conv2d_backward(dy3, x3, w3, padding=1)),
        ("max_pool2d 3x3/2 8x56x56x64", lambda m: m.max_pool2d(xp, 3, 2, 1)),
        ("matmul 512x512 float32", lambda m: m.matmul(a, a)),
    ]


def bench(repeats):
    fastconv.show_config()
    print()
    print(f"{'operation':36s} {'fastconv ms':>12s} {'reference ms':>13s} {'speed-up':>9s}")
    for name, fn in _cases(np.random.default_rng(0)):
        fast = _median_time(lambda: fn(fastconv), repeats)
        slow = _median_time(lambda: fn(ref), max(1, repeats // 3))
        print(f"{name:36s} {fast * 1e3:12.2f} {slow * 1e3:13.2f} {slow / fast:8.1f}x")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastconv", description=__doc__)
    parser.add_argument("--threads", type=int, help="threads to use (default: all cores)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per operation")
    args = parser.parse_args(argv)
    if args.threads:
        fastconv.set_num_threads(args.threads)
    bench(args.repeats)


if __name__ == "__main__":
    main()
