"""python -m fastconv [bench|train|detect|landmarks]

  bench (default): print the configuration and a short timing table of
                   fastconv against the pure-NumPy reference.
  train:           train LeNet-5 (or --model) on the synthetic shapes set,
                   print the test accuracy, write a PNG of the curves and filters.
  detect:          train the tiny YOLO-style detector on synthetic scenes, print
                   mAP@0.5 on held-out scenes, write a PNG of the detections.
  landmarks:       train the landmark network on synthetic faces, print the
                   mean normalised point error on held-out faces, write a PNG
                   of predicted against true key points.
"""
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


def _training_options(parser, batch_size, train_samples, test_samples, epochs=8):
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--train-samples", type=int, default=train_samples)
    parser.add_argument("--test-samples", type=int, default=test_samples)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=".", help="folder for the PNG")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def main(argv=None):
    from fastconv.train import BUILDERS, train

    parser = argparse.ArgumentParser(prog="python -m fastconv", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, help="threads to use (default: all cores)")
    sub = parser.add_subparsers(dest="command")
    b = sub.add_parser("bench", help="timing table against the reference (the default)")
    b.add_argument("--repeats", type=int, default=5, help="timed runs per operation")
    t = sub.add_parser("train", help="train a CNN on the synthetic shapes set")
    t.add_argument("--model", choices=sorted(BUILDERS), default="lenet5")
    _training_options(t, batch_size=64, train_samples=8000, test_samples=2000)
    d = sub.add_parser("detect", help="train and evaluate the tiny detector")
    _training_options(d, batch_size=32, train_samples=3000, test_samples=300)
    m = sub.add_parser("landmarks", help="train and evaluate the landmark network")
    _training_options(m, batch_size=32, train_samples=4000, test_samples=500, epochs=20)
    args = parser.parse_args(argv)
    if args.threads:
        fastconv.set_num_threads(args.threads)
    if args.command == "landmarks":
        from fastconv.landmarks_cli import train_landmarks
        result = train_landmarks(args.epochs, args.train_samples, args.test_samples,
                                 args.batch_size, args.seed, args.out, not args.no_plot,
                                 not args.quiet)
        print(f"mean normalised point error {result['error']:.4f} (of the inter-ocular "
              f"distance) on the {result['faces']} faces of {args.test_samples} held-out "
              f"images; face presence accuracy {result['presence_accuracy']:.3f}  (training "
              f"{result['seconds']:.1f} s on {fastconv.get_num_threads()} threads)")
        if not args.no_plot:
            print(f"wrote {result['png']}: held-out images, true key points as green crosses, "
                  f"predicted ones as red squares")
    elif args.command == "detect":
        from fastconv.detect_cli import train_detector
        result = train_detector(args.epochs, args.train_samples, args.test_samples,
                                args.batch_size, args.seed, args.out, not args.no_plot,
                                not args.quiet)
        print(f"mAP@0.5 {result['mAP']:.3f} on {args.test_samples} held-out scenes  "
              f"(training {result['seconds']:.1f} s on {fastconv.get_num_threads()} threads)")
        if not args.no_plot:
            print(f"wrote {result['png']}" if result.get("png") else
                  "no PNG: install matplotlib (pip install 'fastconv[plot]')")
    elif args.command == "train":
        result = train(args.model, args.epochs, args.batch_size, args.train_samples,
                       args.test_samples, args.seed, args.out, not args.no_plot, not args.quiet)
        print(f"test accuracy {result['accuracy']:.4f}  (loss {result['loss']:.4f}, "
              f"training {result['seconds']:.1f} s on {fastconv.get_num_threads()} threads)")
        if not args.no_plot:
            print(f"wrote {result['png']}" if result.get("png") else
                  "no PNG: install matplotlib (pip install 'fastconv[plot]')")
    else:
        bench(getattr(args, "repeats", 5))


if __name__ == "__main__":
    main()
