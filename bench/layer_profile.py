"""Where a network's inference time goes: each step of fastconv's inference
path (Model.predict) beside each node of ONNX Runtime running the same network
(its own profiler), best of several rounds each.

    python bench/layer_profile.py resnet18 --batch 1 --threads 2
    python bench/layer_profile.py tiny_yolo --batch 8 --size 64 --threads 2

The two sides run in separate blocks with a pause between (ONNX Runtime's
worker threads spin after a call and would take the cores from fastconv).
ONNX Runtime fuses and re-lays out differently (its NCHWc nodes, reorders),
so the two lists are printed side by side in execution order, not matched.
Needs the bench extra's onnxruntime and onnx.
"""
import argparse
import collections
import json
import os
import tempfile
import time

import numpy as np

import fastconv
from fastconv import detect, models
from fastconv.nn import inference

import model_mirror

STEP_TYPES = (inference._Affine, inference._Pool, inference._Function, inference._Layer)


def describe(step):
    """A short name for an inference step."""
    if isinstance(step, inference._Affine):
        layer = step.layer
        return (f"{type(layer).__name__} w{tuple(step.w.shape)} "
                f"s{getattr(layer, 'stride', '')} g{getattr(layer, 'groups', '')} "
                f"{step.activation or ''}").rstrip()
    inner = getattr(step, "layer", None)
    return f"{type(step).__name__.lstrip('_')} {type(inner).__name__ if inner else ''}".rstrip()


def fastconv_steps(model, x, rounds):
    """(total seconds, [(description, seconds)]) per step, best of `rounds`."""
    timings = []
    originals = {}

    def timed(method):
        def run(self, *args, **kwargs):
            start = time.perf_counter()
            result = method(self, *args, **kwargs)
            timings.append((self, time.perf_counter() - start))
            return result
        return run

    for cls in STEP_TYPES:
        for name in ("run", "run_adding"):
            if name in vars(cls):
                originals[(cls, name)] = vars(cls)[name]
                setattr(cls, name, timed(vars(cls)[name]))
    try:
        model.predict(x)
        best_total, best_steps = float("inf"), None
        for _ in range(rounds):
            timings.clear()
            start = time.perf_counter()
            model.predict(x)
            best_total = min(best_total, time.perf_counter() - start)
            steps = [(describe(s), t) for s, t in timings]
            best_steps = steps if best_steps is None else \
                [(d, min(t, t2)) for (d, t), (_, t2) in zip(best_steps, steps)]
    finally:
        for (cls, name), method in originals.items():
            setattr(cls, name, method)
    return best_total, best_steps


def ort_nodes(model, x, threads, rounds):
    """(total seconds, [(op and node name, seconds)]) per node, best of `rounds`,
    from ONNX Runtime's profiler."""
    import onnxruntime as ort
    prefix = os.path.join(tempfile.mkdtemp(), "ort")
    make_session = ort.InferenceSession

    def profiled(model_bytes, options, providers):
        options.enable_profiling = True
        options.profile_file_prefix = prefix
        return make_session(model_bytes, options, providers=providers)

    ort.InferenceSession = profiled
    try:
        session = model_mirror.to_onnx_session(model.network, x.transpose(0, 3, 1, 2).shape,
                                               threads)
    finally:
        ort.InferenceSession = make_session
    feed = {session.get_inputs()[0].name: np.ascontiguousarray(x.transpose(0, 3, 1, 2))}
    session.run(None, feed)
    best_total = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        session.run(None, feed)
        best_total = min(best_total, time.perf_counter() - start)
    with open(session.end_profiling()) as f:
        events = json.load(f)
    nodes = collections.OrderedDict()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            key = f"{e['args'].get('op_name')} {e['name'][:-len('_kernel_time')]}"
            nodes.setdefault(key, []).append(e["dur"] / 1e6)
    return best_total, [(k, min(v)) for k, v in nodes.items()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("network", help="a fastconv.models builder, or tiny_yolo")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    fastconv.set_num_threads(args.threads)
    make = detect.tiny_yolo if args.network == "tiny_yolo" else getattr(models, args.network)
    model = make()
    x = np.random.default_rng(0).standard_normal((args.batch, args.size, args.size, 3),
                                                 dtype=np.float32)
    fc_total, fc = fastconv_steps(model, x, args.rounds)
    time.sleep(0.5)
    ort_total, ort = ort_nodes(model, x, args.threads, args.rounds)
    print(f"{args.network} batch {args.batch} {args.size}x{args.size}, {args.threads} thread(s): "
          f"fastconv {fc_total * 1e3:.3f} ms (steps {sum(t for _, t in fc) * 1e3:.3f}), "
          f"ONNX Runtime {ort_total * 1e3:.3f} ms (nodes {sum(t for _, t in ort) * 1e3:.3f})")
    width = max(len(d) for d, _ in fc) + 2
    for i in range(max(len(fc), len(ort))):
        left = f"{fc[i][1] * 1e3:8.3f}  {fc[i][0]:{width}s}" if i < len(fc) else " " * (width + 10)
        right = f"{ort[i][1] * 1e3:8.3f}  {ort[i][0]}" if i < len(ort) else ""
        print(f"{left}| {right}")


if __name__ == "__main__":
    main()
