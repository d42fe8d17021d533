"""Shared fixtures for the benchmark suites, and a summary of speed ratios.

Run:  pytest bench/ --benchmark-only            (add -k to pick cases)
Each case is a pytest-benchmark group holding one entry per implementation
(fastconv, reference, torch, ort); the summary prints median-time ratios, and
for the layer table (test_bench_layers.py) a per-class table of them.
"""
import math

import numpy as np
import pytest

import fastconv
from fastconv._config import peak_workspace

try:
    import torch
except ImportError:       # PyTorch is optional: its entries are skipped
    torch = None

try:
    import onnx
    import onnxruntime
except ImportError:       # so is ONNX Runtime
    onnx = onnxruntime = None

THREADS = [1, 2]


@pytest.fixture(params=THREADS, ids=lambda n: f"{n}t")
def threads(request):
    old = fastconv.get_num_threads()
    fastconv.set_num_threads(request.param)
    if torch is not None:
        old_torch = torch.get_num_threads()
        torch.set_num_threads(request.param)
    yield request.param
    fastconv.set_num_threads(old)
    if torch is not None:
        torch.set_num_threads(old_torch)


def need_torch():
    if torch is None:
        pytest.skip("PyTorch is not installed (pip install torch==2.13.0)")
    return torch


def need_ort():
    if onnxruntime is None:
        pytest.skip("ONNX Runtime is not installed (pip install onnxruntime onnx)")
    return onnx, onnxruntime


def run(benchmark, impl, fn, slow=False, work=None, unit="GFLOP/s"):
    """Time fn(); the reference gets few rounds because it is slow.  `work`
    (flops or bytes per call) adds a rate in `unit` to the summary."""
    benchmark.extra_info["impl"] = impl
    if slow:
        result = benchmark.pedantic(fn, rounds=3, iterations=1, warmup_rounds=0)
    else:
        result = benchmark(fn)
    if work and benchmark.stats:            # stats is None under --benchmark-disable
        benchmark.extra_info["note"] = f"{work / benchmark.stats.stats.median / 1e9:.1f} {unit}"
    if impl == "fastconv":                  # kernel workspace of one call, outputs excluded
        _, peak = peak_workspace(fn)
        benchmark.extra_info["workspace_MiB"] = round(peak / 2**20, 2)
    return result


def pytest_terminal_summary(terminalreporter, config):
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    groups = {}
    for bench in session.benchmarks:
        impl = bench.extra_info.get("impl", bench.name)
        groups.setdefault(bench.group, {})[impl] = bench.stats.median
    terminalreporter.write_sep("=", "fastconv speed ratios (median time of other / fastconv)")
    terminalreporter.write_line(f"{'case':44s} {'fastconv ms':>12s} {'vs torch':>9s} "
                                f"{'vs ort':>9s} {'vs ref/numpy':>13s}  extra")
    for group in sorted(groups, key=str):
        impls = groups[group]
        if "fastconv" not in impls:
            continue
        mine = impls["fastconv"]
        def ratio(key):
            return f"{impls[key] / mine:8.2f}x" if key in impls else "       -"
        other = "reference" if "reference" in impls else "numpy"
        mine_info = next((b.extra_info for b in session.benchmarks
                          if b.group == group and b.extra_info.get("impl") == "fastconv"), {})
        extra = mine_info.get("note", "")
        if "workspace_MiB" in mine_info:
            extra += f"  workspace {mine_info['workspace_MiB']:.2f} MiB"
        if "peak_MiB" in mine_info:     # whole networks: peak memory of one call
            peers = {b.extra_info.get("impl"): b.extra_info["peak_MiB"] for b in session.benchmarks
                     if b.group == group and "peak_MiB" in b.extra_info}
            extra += f"  peak {mine_info['peak_MiB']:.1f} MiB" + \
                (f" (torch {peers['torch']:.1f})" if "torch" in peers else "")
        terminalreporter.write_line(f"{str(group):44s} {mine * 1e3:12.3f} {ratio('torch'):>9s} "
                                    f"{ratio('ort'):>9s} {ratio(other):>13s}  {extra}")
    class_summary(terminalreporter, session.benchmarks)


def class_summary(terminalreporter, benchmarks):
    """Layer-table entries (extra_info has layer_class) per (class, pass, threads):
    the (layer, batch) cases timed, and min and geometric mean over them of best
    peer time / fastconv time (the faster of torch and ort); "-" where no peer ran."""
    cases = {}
    for bench in benchmarks:
        info = bench.extra_info
        if "layer_class" in info:
            key = (info["class_rank"], info["direction"] != "fwd", info["threads"],
                   info["layer_class"], info["direction"])
            cases.setdefault(key, {}).setdefault(bench.group, {})[info["impl"]] = bench.stats.median
    if not cases:
        return
    terminalreporter.write_sep("=", "fastconv layer table per class "
                                    "(best peer / fastconv; >1: fastconv faster)")
    terminalreporter.write_line(f"{'class':10s} {'pass':4s} {'threads':>7s} {'cases':>6s} "
                                f"{'peer':>5s} {'min':>8s} {'geomean':>8s}")
    for key in sorted(cases):
        _, _, threads, cls, direction = key
        timed = [impls for impls in cases[key].values() if "fastconv" in impls]
        ratios = [min(t for impl, t in impls.items() if impl != "fastconv") / impls["fastconv"]
                  for impls in timed if len(impls) > 1]
        low = f"{min(ratios):7.2f}x" if ratios else "-"
        mean = f"{math.exp(sum(map(math.log, ratios)) / len(ratios)):7.2f}x" if ratios else "-"
        terminalreporter.write_line(f"{cls:10s} {direction:4s} {threads:>6d}t {len(timed):6d} "
                                    f"{len(ratios):5d} {low:>8s} {mean:>8s}")


def rng():
    return np.random.default_rng(0)
