"""Measure the tables the documentation shows and write them to a JSON file
(bench/results/measured.json by default), labelled with the machine, the date
and the commit.  The docs never run this: they draw their charts and tables
from the committed file (bench/charts.py).

    python bench/record.py [--repeats 5] [--out bench/results/measured.json]

Conv suite forward passes (NHWC float32, bench/test_bench_conv.py) against the
NumPy reference, and float32 GEMMs against numpy.matmul, at 1 and 2 threads;
best of --repeats runs, each library in its own block with a pause between
blocks, NumPy's BLAS limited to the same thread count.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fastconv  # noqa: E402
from fastconv import reference as ref  # noqa: E402
from parity_figures import best_ms as parity_best_ms  # noqa: E402
from test_bench_conv import CASES as CONV_CASES, flops, inputs  # noqa: E402

GEMM_SIZES = [256, 512, 1024, 2048]
THREADS = [1, 2]


def best_ms(fn, repeats, pause=0.3):
    """Best of `repeats` runs after a warm-up, a pause before the block."""
    time.sleep(pause)
    return parity_best_ms(fn, repeats)


def conv_rows(repeats):
    rows = []
    for case in CONV_CASES:
        x, w, kw = inputs(case)
        for threads in THREADS:
            fastconv.set_num_threads(threads)
            with threadpool_limits(threads, user_api="blas"):
                fast = best_ms(lambda: fastconv.conv2d(x, w, **kw), repeats)
                slow = best_ms(lambda: ref.conv2d(x, w, **kw), max(1, repeats // 2))
            rows.append({"case": case[0], "threads": threads, "fastconv_ms": fast,
                         "reference_ms": slow, "gflops": flops(case) / fast / 1e6})
            print(f"conv {case[0]:14s} {threads}t  fastconv {fast:9.3f} ms  "
                  f"reference {slow:9.3f} ms", flush=True)
    return rows


def gemm_rows(repeats):
    rows = []
    g = np.random.default_rng(0)
    for n in GEMM_SIZES:
        a = g.standard_normal((n, n), dtype=np.float32)
        b = g.standard_normal((n, n), dtype=np.float32)
        for threads in THREADS:
            fastconv.set_num_threads(threads)
            with threadpool_limits(threads, user_api="blas"):
                fast = best_ms(lambda: fastconv.matmul(a, b), repeats)
                blas = best_ms(lambda: np.matmul(a, b), repeats)
            rows.append({"case": f"square-{n}", "threads": threads, "fastconv_ms": fast,
                         "numpy_ms": blas, "gflops": 2.0 * n ** 3 / fast / 1e6})
            print(f"gemm square-{n:<5d} {threads}t  fastconv {fast:9.3f} ms  "
                  f"numpy {blas:9.3f} ms", flush=True)
    return rows


def machine():
    info = fastconv.show_config("dicts")
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=os.path.dirname(__file__)).stdout.strip()
    except OSError:
        commit = ""
    return {"cpu": info["cpu"], "cores": os.cpu_count(), "features": info["cpu_features"],
            "kernels": info["kernels"], "compiler": info["compiler"],
            "fastconv": info["version"], "commit": commit, "numpy": np.__version__,
            "python": platform.python_version(),
            "date": datetime.date.today().isoformat()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                      "measured.json"))
    args = parser.parse_args(argv)
    result = {"machine": machine(), "conv_forward": conv_rows(args.repeats),
              "gemm_float32": gemm_rows(args.repeats)}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
