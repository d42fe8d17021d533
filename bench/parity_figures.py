"""The figures of the parity work, side by side in one process: NMS of 10 000
boxes against the classic vectorised NumPy NMS, and conv_transpose2d forward
and backward against PyTorch (both at the same thread count, NumPy's BLAS
limited to it too).  Best of several runs, each library in its own block with
a pause between blocks.

    python bench/parity_figures.py [--threads 1]
"""
import argparse
import os
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fastconv  # noqa: E402
from fastconv import detect  # noqa: E402
from test_bench_detect import detector_like_boxes, numpy_nms  # noqa: E402
from test_bench_parity import CASES, inputs, uniform_boxes  # noqa: E402
from timing import best_time  # noqa: E402


def side_by_side(blocks, repeats, pause=0.5):
    """{name: best ms}, one block per library, a pause between them."""
    out = {}
    for name, fn, reps in blocks:
        time.sleep(pause)
        out[name] = best_time(fn, min_calls=reps or repeats) * 1e3
    return out


def nms_figures(repeats):
    print(f"{'NMS, 10 000 boxes':34s} {'fastconv ms':>12s} {'numpy ms':>10s} {'ratio':>8s}")
    sets = {"uniform random": uniform_boxes(10_000),
            "detector-like": detector_like_boxes(10_000, np.random.default_rng(0))}
    for name, (boxes, scores) in sets.items():
        t = side_by_side([("fastconv", lambda: detect.non_max_suppression(boxes, scores, 0.5),
                           None),
                          ("numpy", lambda: numpy_nms(boxes, scores, 0.5), 3)], repeats)
        print(f"{name:34s} {t['fastconv']:12.3f} {t['numpy']:10.1f} "
              f"{t['numpy'] / t['fastconv']:7.1f}x")


def conv_transpose_figures(repeats, threads):
    import torch
    torch.set_num_threads(threads)
    print(f"\n{'conv_transpose2d, NHWC float32':34s} {'pass':4s} {'fastconv ms':>12s} "
          f"{'torch ms':>10s} {'torch/fastconv':>15s}")
    for case in CASES:
        x, wt, kw = inputs(case)
        dy = np.random.default_rng(1).standard_normal(
            fastconv.conv_transpose2d(x, wt, **kw).shape, dtype=np.float32)
        xt = torch.from_numpy(x).permute(0, 3, 1, 2)
        wt_t = torch.from_numpy(np.ascontiguousarray(wt.transpose(3, 2, 0, 1))).contiguous(
            memory_format=torch.channels_last)
        targs = dict(stride=kw["stride"], padding=kw["padding"],
                     output_padding=kw["output_padding"])
        with torch.no_grad():
            fwd = side_by_side([("fastconv", lambda: fastconv.conv_transpose2d(x, wt, **kw), None),
                                ("torch", lambda: torch.nn.functional.conv_transpose2d(
                                    xt, wt_t, **targs), None)], repeats)
        xg = xt.detach().requires_grad_(True)
        wg = wt_t.detach().requires_grad_(True)
        bg = torch.zeros(wt.shape[2], requires_grad=True)
        y = torch.nn.functional.conv_transpose2d(xg, wg, bg, **targs)
        dyt = torch.from_numpy(dy).permute(0, 3, 1, 2)
        bwd = side_by_side([("fastconv", lambda: fastconv.conv_transpose2d_backward(dy, x, wt,
                                                                                    **kw), None),
                            ("torch", lambda: torch.autograd.grad(y, (xg, wg, bg), dyt,
                                                                  retain_graph=True), None)],
                           repeats)
        for name, t in (("fwd", fwd), ("bwd", bwd)):
            print(f"{case[0]:34s} {name:4s} {t['fastconv']:12.3f} {t['torch']:10.3f} "
                  f"{t['torch'] / t['fastconv']:14.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=fastconv.get_num_threads())
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    fastconv.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        print(f"{args.threads} thread(s); best of {args.repeats}\n")
        nms_figures(args.repeats)
        conv_transpose_figures(args.repeats, args.threads)


if __name__ == "__main__":
    main()
