"""fastconv.matmul against NumPy (OpenBLAS) on few-row products (fc layers),
tiny products and two squares: best-of, each library in its own block, NumPy's
BLAS limited to the same thread count.  Unset OPENBLAS_CORETYPE /
OPENBLAS_L2_SIZE for this run if they are set.

python bench/gemm_few_rows.py
"""
import time

import numpy as np
from threadpoolctl import threadpool_limits

import fastconv
from timing import best_time

SHAPES = [(1, 4096, 1000), (8, 4096, 1000), (32, 4096, 1000), (64, 4096, 1000),
          (64, 9216, 4096), (16, 4096, 4096), (64, 512, 4096), (8, 512, 4096), (64, 1024, 10),
          (4, 4, 4), (16, 16, 16), (256, 256, 256), (1024, 1024, 1024)]


def main():
    g = np.random.default_rng(0)
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        for m, k, n in SHAPES:
            a = g.standard_normal((m, k), dtype=np.float32)
            b = g.standard_normal((k, n), dtype=np.float32)
            with threadpool_limits(threads, user_api="blas"):
                t_np = best_time(lambda: a @ b, 0.4, 5)
            time.sleep(0.1)
            t_fc = best_time(lambda: fastconv.matmul(a, b), 0.4, 5)
            time.sleep(0.1)
            print(f"{threads}t {m}x{k}x{n}: fastconv {t_fc * 1e6:9.1f} us  numpy {t_np * 1e6:9.1f} us"
                  f"  numpy/fastconv {t_np / t_fc:5.2f}", flush=True)


if __name__ == "__main__":
    main()
