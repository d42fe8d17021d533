"""Timing script for ab_builds.py: ResNeXt-50 32x4d's grouped 3x3 layers (32
groups) and MobileNetV1's depthwise 3x3 layers, batch 1 and 8, forward (into
a preallocated output) and backward (dx + dw + db), and max pooling 3x3/2 and
2x2/2 of 8x112x112x64 forward and backward, best of a few calls each (after
a warm-up call).  Set FASTCONV_AB_ONLY=grouped, depthwise or pool for one of
them."""
import os

import numpy as np

import fastconv
from timing import best_time

# (H = W, channels, stride, groups as a function of the channels)
LAYERS = {
    "grouped": [(56, 128, 1), (56, 256, 2), (28, 256, 1), (28, 512, 2), (14, 512, 1),
                (14, 1024, 2), (7, 1024, 1)],
    "depthwise": [(112, 32, 1), (112, 64, 2), (56, 128, 1), (56, 128, 2), (28, 256, 1),
                  (28, 256, 2), (14, 512, 1), (14, 512, 2), (7, 1024, 1)],
}


rng = np.random.default_rng(0)
only = os.environ.get("FASTCONV_AB_ONLY")
for kind, layers in LAYERS.items():
    if only and only != kind:
        continue
    for h, c, stride in layers:
        groups = 32 if kind == "grouped" else c
        for n in (1, 8):
            x = rng.standard_normal((n, h, h, c)).astype(np.float32)
            w = rng.standard_normal((3, 3, c // groups, c)).astype(np.float32)
            kw = dict(stride=stride, padding=1, groups=groups)
            y = fastconv.conv2d(x, w, **kw)
            dy = np.cos(y)
            case = f"{kind}-{n}x{h}x{h}x{c}/{stride}"
            print("TIME", case + "-fwd",
                  best_time(lambda: fastconv.conv2d(x, w, out=y, **kw), min_calls=5))
            print("TIME", case + "-bwd",
                  best_time(lambda: fastconv.conv2d_backward(dy, x, w, **kw), min_calls=3))

if not only or only == "pool":
    x = rng.standard_normal((8, 112, 112, 64)).astype(np.float32)
    for size, stride, pad in ((3, 2, 1), (2, 2, 0)):
        y = fastconv.max_pool2d(x, size, stride, pad)
        dy = np.cos(y)
        case = f"pool-max{size}x{size}s{stride}"
        print("TIME", case + "-fwd",
              best_time(lambda: fastconv.max_pool2d(x, size, stride, pad), min_calls=5))
        print("TIME", case + "-bwd",
              best_time(lambda: fastconv.max_pool2d_backward(dy, x, size, stride, pad), min_calls=5))
