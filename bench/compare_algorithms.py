"""Forward / backward (dx + dw + db) median ms of each forced conv2d algorithm
on the shapes of the convolution suite (bench/test_bench_conv.py) it applies
to (fastconv only), 1 and 2 threads, as markdown table rows.
Run: python bench/compare_algorithms.py"""
import timeit

import numpy as np

import fastconv

CASES = [("lenet5-c1", 32, 32, 1, 6, 5, 0), ("lenet5-c3", 32, 14, 6, 16, 5, 0),
         ("vgg-c2", 1, 112, 128, 128, 3, 1), ("resnet-3x3", 8, 56, 64, 64, 3, 1),
         ("resnet-c4-3x3", 8, 14, 256, 256, 3, 1), ("yolo-3x3", 1, 13, 512, 1024, 3, 1),
         ("inception-5x5", 8, 28, 16, 32, 5, 2)]


def median_ms(f):
    f()
    return sorted(timeit.repeat(f, number=3, repeat=5))[2] / 3 * 1e3


def main():
    rng = np.random.default_rng(0)
    for nt in (1, 2):
        fastconv.set_num_threads(nt)
        for name, n, h, c, k, f, p in CASES:
            x = rng.standard_normal((n, h, h, c), dtype=np.float32)
            w = (rng.standard_normal((f, f, c, k), dtype=np.float32) / np.sqrt(f * f * c)).astype(np.float32)
            dy = rng.standard_normal(fastconv.conv2d(x, w, padding=p).shape, dtype=np.float32)
            cells = []
            for a in ("auto", "gemm", "direct", "winograd", "inplace"):
                try:
                    fwd = median_ms(lambda: fastconv.conv2d(x, w, padding=p, algorithm=a))
                    bwd = median_ms(lambda: fastconv.conv2d_backward(dy, x, w, padding=p, algorithm=a))
                    cells.append(f"{a} {fwd:.3f} / {bwd:.2f}")
                except ValueError:
                    cells.append(f"{a} n/a")
            print(f"| {name} | {nt} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
