"""The layer table in minutes instead of an hour: the layers, classes and peers
of test_bench_layers.py, each timed best-of within a short budget (the fastest
run of a call is the least disturbed one on a shared machine), each library in
its own block with a pause between, NumPy's BLAS limited to the same threads.
Prints every case and the per-class summary (best peer / fastconv: min and
geometric mean; >1: fastconv faster) and can write the times as JSON.

python bench/layer_table.py                       # 1 and 2 threads, forward and backward
python bench/layer_table.py --threads 1 --budget 0.2 --json times.json
python bench/layer_table.py --only "depthwise,grouped"   # classes by name
"""
import argparse
import json
import math
import time

import numpy as np

import fastconv
from conftest import onnxruntime, rng, torch
from timing import best_time
from test_bench_layers import (LAYERS, arrays, geometry, layer_class, nchw, ort_session,
                               torch_tensors, torch_weight)


def blocks(fns, budget, pause=0.05):
    """{name: best time}, each fn timed in its own block after a pause (idle
    OpenMP and BLAS workers of the previous library spin for a while)."""
    out = {}
    for name, fn in fns.items():
        time.sleep(pause)
        out[name] = best_time(fn, budget)
    return out


def forward_calls(layer, n, threads):
    x, w, b = arrays(layer, n)
    kw = dict(layout=layer.layout, **geometry(layer))
    calls = {"fastconv": lambda: fastconv.conv2d(x, w, b, **kw)}
    if torch is not None:
        _, (xt,) = torch_tensors(layer, x)
        wt, bt = torch_weight(torch, layer, w), torch.from_numpy(b)

        def torch_forward():
            with torch.no_grad():
                return torch.nn.functional.conv2d(xt, wt, bt, **geometry(layer))
        calls["torch"] = torch_forward
    if onnxruntime is not None:
        session = ort_session(layer, n, threads)
        feed = {"x": x if layer.layout == "NCHW" else nchw(x)}
        calls["ort"] = lambda: session.run(None, feed)
    return calls


def backward_calls(layer, n):
    x, w, b = arrays(layer, n)
    kw = dict(layout=layer.layout, **geometry(layer))
    dy = rng().standard_normal(fastconv.conv2d(x, w, **kw).shape, dtype=np.float32)
    calls = {"fastconv": lambda: fastconv.conv2d_backward(dy, x, w, **kw)}
    if torch is not None:
        _, (xt, dyt) = torch_tensors(layer, x, dy)
        xt = xt.detach().requires_grad_(True)
        wt = torch_weight(torch, layer, w).requires_grad_(True)
        bt = torch.from_numpy(b).requires_grad_(True)
        y = torch.nn.functional.conv2d(xt, wt, bt, **geometry(layer))
        calls["torch"] = lambda: torch.autograd.grad(y, (xt, wt, bt), dyt, retain_graph=True)
    return calls


def summary(rows):
    """Per (class, pass, threads): cases, min and geometric mean of best peer / fastconv."""
    per = {}
    for r in rows:
        peers = [t for impl, t in r["times"].items() if impl != "fastconv"]
        if peers:
            per.setdefault((r["class"], r["pass"], r["threads"]), []).append(
                min(peers) / r["times"]["fastconv"])
    print(f"\n{'class':10s} {'pass':4s} {'threads':>7s} {'cases':>6s} {'min':>7s} {'geomean':>8s}")
    for (cls, direction, threads), ratios in sorted(per.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0])):
        geo = math.exp(sum(map(math.log, ratios)) / len(ratios))
        print(f"{cls:10s} {direction:4s} {threads:6d}t {len(ratios):6d} {min(ratios):6.2f}x {geo:7.2f}x")
    every = {}
    for (_, direction, threads), ratios in per.items():
        every.setdefault((direction, threads), []).extend(ratios)
    for (direction, threads), ratios in sorted(every.items()):
        geo = math.exp(sum(map(math.log, ratios)) / len(ratios))
        print(f"{'all':10s} {direction:4s} {threads:6d}t {len(ratios):6d} {min(ratios):6.2f}x {geo:7.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--budget", type=float, default=0.1, help="seconds per library and case")
    parser.add_argument("--only", default="", help="comma-separated classes")
    parser.add_argument("--passes", default="fwd,bwd")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits
    only = {c.strip() for c in args.only.split(",") if c.strip()}
    rows = []
    for threads in args.threads:
        fastconv.set_num_threads(threads)
        if torch is not None:
            torch.set_num_threads(threads)
        with threadpool_limits(threads, user_api="blas"):
            for layer in LAYERS:
                cls = layer_class(layer)
                if only and cls not in only:
                    continue
                for n in (1, 8):
                    for direction in args.passes.split(","):
                        calls = (forward_calls(layer, n, threads) if direction == "fwd"
                                 else backward_calls(layer, n))
                        times = blocks(calls, args.budget)
                        rows.append({"layer": layer.id, "n": n, "threads": threads,
                                     "pass": direction, "class": cls, "times": times})
                        peers = " ".join(f"{k} {v * 1e3:8.3f}" for k, v in times.items())
                        best_peer = min((v for k, v in times.items() if k != "fastconv"), default=None)
                        ratio = f"{best_peer / times['fastconv']:5.2f}x" if best_peer else "-"
                        print(f"{threads}t {cls:9s} {layer.id:28s} b{n} {direction}  {peers}  {ratio}",
                              flush=True)
    summary(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
