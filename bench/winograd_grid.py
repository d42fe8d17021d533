"""Where Winograd pays: for 3x3 stride-1 layers over a grid of batch, map size
and channels (C = K, and a few uneven pairs), the best-of time of forced
Winograd against the GEMM (or the direct or in-place kernels where "auto"
would otherwise have picked them), for the forward pass and for dw, with the
number of 4x4 output tiles.  This grid set the plan's thresholds
(FC_WINOGRAD_MIN_TILES, FC_WINOGRAD_DW_MIN_TILES, FC_WINOGRAD_MIN_CHANNELS in
csrc/conv_plan.tmpl.h).  Each side runs in its own block, best of a short budget.

python bench/winograd_grid.py                  # 1 thread, forward and dw
python bench/winograd_grid.py --threads 2 --passes fwd
"""
import argparse

import numpy as np

import fastconv
from timing import best_time

BATCHES = (1, 8, 32)
SIZES = (4, 7, 14, 28, 56)
CHANNELS = (16, 32, 64, 128, 256, 512)
UNEVEN = [(8, 32, 8, 32), (8, 32, 32, 8), (8, 32, 16, 32), (8, 32, 32, 16)]
MAX_VALUES = 8 * 56 * 56 * 128   # skip the largest activations (minutes each)


def others(pass_name, c):
    """The algorithms Winograd is compared with: the GEMM, and for dw of
    narrow layers the in-place GEMM."""
    if pass_name == "dw" and c <= 64:
        return ("gemm", "inplace")
    return ("gemm", "direct") if c <= 16 else ("gemm",)


def timed(call, algorithm, budget):
    try:
        return best_time(lambda: call(algorithm), budget)
    except ValueError:        # the algorithm does not apply to this shape
        return float("inf")


def compare(n, h, c, k, passes, budget, rng):
    x = rng.standard_normal((n, h, h, c), dtype=np.float32)
    w = rng.standard_normal((3, 3, c, k), dtype=np.float32)
    dy = rng.standard_normal((n, h, h, k), dtype=np.float32)
    calls = {"fwd": lambda a: fastconv.conv2d(x, w, padding=1, algorithm=a),
             "dw": lambda a: fastconv.conv2d_backward(dy, x, w, padding=1, need_dx=False,
                                                      algorithm=a)}
    cells = []
    for p in passes:
        best_other = min(timed(calls[p], a, budget) for a in others(p, min(c, k)))
        wino = timed(calls[p], "winograd", budget)
        cells.append(f"{p} {best_other * 1e3:8.3f} / {wino * 1e3:8.3f} ms = {best_other / wino:4.2f}x")
    tiles = n * ((h + 3) // 4) ** 2
    print(f"{n:3d}x{h:3d}x{h:3d} {c:4d}->{k:<4d} {tiles:5d} tiles  " + "   ".join(cells),
          flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--passes", default="fwd,dw")
    parser.add_argument("--budget", type=float, default=0.2, help="seconds per side and case")
    args = parser.parse_args()
    fastconv.set_num_threads(args.threads)
    passes = args.passes.split(",")
    rng = np.random.default_rng(0)
    print(f"{args.threads} thread(s); each cell: best other / Winograd = Winograd's speed-up")
    shapes = [(n, h, c, c) for n in BATCHES for h in SIZES for c in CHANNELS
              if n * h * h * c <= MAX_VALUES] + UNEVEN
    for n, h, c, k in shapes:
        compare(n, h, c, k, passes, args.budget, rng)


if __name__ == "__main__":
    main()
