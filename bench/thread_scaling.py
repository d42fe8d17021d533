"""Thread scaling of fastconv against PyTorch (channels_last) on a few cases of
bench/test_bench_conv.py, 1 to all cores: median ms and the ratio torch / fastconv.
Run: python bench/thread_scaling.py [max_threads]"""
import os
import sys
import timeit

import numpy as np
import torch

import fastconv

CASES = [("resnet-3x3", 8, 56, 64, 64, 3, 1), ("vgg-c2", 1, 112, 128, 128, 3, 1),
         ("resnet-1x1", 8, 56, 256, 64, 1, 0), ("lenet5-c1", 32, 32, 1, 6, 5, 0),
         ("yolo-3x3", 1, 13, 512, 1024, 3, 1)]


def median_ms(f, budget=0.3):
    f()
    t0 = timeit.default_timer()
    f()
    number = max(1, int(budget / 5 / max(timeit.default_timer() - t0, 1e-6)))
    return sorted(timeit.repeat(f, number=number, repeat=5))[2] / number * 1e3


def main():
    most = int(sys.argv[1]) if len(sys.argv) > 1 else os.cpu_count()
    counts = [t for t in (1, 2, 4, 8, 16, 32) if t <= most]
    rng = np.random.default_rng(0)
    print(f"fastconv {fastconv.__version__}, torch {torch.__version__}, {os.cpu_count()} cpus")
    for name, n, h, c, k, f, p in CASES:
        x = rng.standard_normal((n, h, h, c), dtype=np.float32)
        w = (rng.standard_normal((f, f, c, k), dtype=np.float32) / np.sqrt(f * f * c)).astype(np.float32)
        dy = rng.standard_normal(fastconv.conv2d(x, w, padding=p).shape, dtype=np.float32)
        xt = torch.from_numpy(x).permute(0, 3, 1, 2).detach().requires_grad_(True)
        wt = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1))).contiguous(
            memory_format=torch.channels_last).requires_grad_(True)
        dyt = torch.from_numpy(dy).permute(0, 3, 1, 2)
        for t in counts:
            fastconv.set_num_threads(t)
            torch.set_num_threads(t)
            ff = median_ms(lambda: fastconv.conv2d(x, w, padding=p))
            fb = median_ms(lambda: fastconv.conv2d_backward(dy, x, w, padding=p))
            with torch.no_grad():
                tf = median_ms(lambda: torch.nn.functional.conv2d(xt, wt, padding=p))
            out = torch.nn.functional.conv2d(xt, wt, padding=p)
            tb = median_ms(lambda: torch.autograd.grad(out, (xt, wt), dyt, retain_graph=True))
            print(f"{name:14s} {t:2d}t  fwd {ff:8.3f} ms ({tf / ff:4.2f}x torch)  "
                  f"bwd {fb:8.3f} ms ({tb / fb:4.2f}x torch)", flush=True)


if __name__ == "__main__":
    main()
