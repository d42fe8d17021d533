"""Scaling out with Dask: ResNet-18 inference throughput over N images in one
process on one thread against a LocalCluster of 2 worker processes x 1 thread
(fastconv.dask.predict), and one data-parallel training epoch
(fastconv.dask.fit against Model.fit), with the bytes that cross the network
per training step and what they mean at 8, 64 and 512 machines.

Run: python bench/dask_scaling.py [--images 256] [--size 224] [--batch 8]
         [--train-images 128] [--train-size 112] [--train-batch 32] [--repeats 3]

What crosses the network per training step (fastconv.dask.fit): the client
sends every worker the parameters and buffers of the step and each worker sends
back its gradients, so the client moves workers x (state + gradients) bytes
per step: the payloads are measured here by serializing the real messages as
dask.distributed does, and the loopback interface's counter is read around the
epoch (minus the one-time scatter of the data and the model).  The table at
the end scales that star pattern to 8, 64 and 512 machines on a 10 Gbit/s
client link, next to what a ring all-reduce (not implemented) would move.
"""
import argparse
import os
import pickle
import sys
import time

import numpy as np

import fastconv
import fastconv.dask as fd
from fastconv import models
from fastconv.dask import training
from fastconv.dask.workers import usable_cores

LINK = 1.25e9          # bytes per second of a 10 Gbit/s link


def best_of(repeats, fn):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def loopback_bytes():
    try:
        import psutil
        counters = psutil.net_io_counters(pernic=True)
        return counters["lo"].bytes_sent if "lo" in counters else None
    except ImportError:
        return None


def serialized_bytes(obj):
    from distributed.protocol.serialize import serialize_bytelist
    return sum(memoryview(frame).nbytes for frame in serialize_bytelist(obj))


def inference(client, args):
    import dask.array as da
    model = models.resnet18(seed=0)
    x = np.random.default_rng(0).random((args.images, args.size, args.size, 3), np.float32)
    # the blocks lie on the workers, dealt out in turn, as data loaded by them would be
    workers = sorted(client.scheduler_info()["workers"])
    starts = range(0, args.images, args.batch)
    blocks = [client.scatter(x[i:i + args.batch], workers=[workers[k % len(workers)]])
              for k, i in enumerate(starts)]
    xd = da.concatenate([da.from_delayed(f, x[i:i + args.batch].shape, x.dtype)
                         for f, i in zip(blocks, starts)])
    placed = [len(blocks[k::len(workers)]) for k in range(len(workers))]
    fastconv.set_num_threads(1)
    model.predict(x[:args.batch], batch_size=args.batch)                 # warm-up
    one = best_of(args.repeats, lambda: model.predict(x, batch_size=args.batch))
    got = fd.predict(model, xd).compute()              # warm-up; sends the model once
    assert np.array_equal(got, model.predict(x, batch_size=args.batch)), "predictions differ"
    two = best_of(args.repeats, lambda: fd.predict(model, xd).compute())
    print(f"ResNet-18 inference, {args.images} images {args.size}x{args.size}, "
          f"batch {args.batch}:")
    print(f"  one process, 1 thread:                {one:7.2f} s  "
          f"{args.images / one:7.1f} images/s")
    print(f"  LocalCluster 2 processes x 1 thread:  {two:7.2f} s  "
          f"{args.images / two:7.1f} images/s   ({one / two:.2f}x; blocks per worker "
          f"{placed}; the model stays on the workers between calls)")
    return one / two


def train_epoch(client, args):
    model = models.resnet18(num_classes=100, input_size=args.train_size, seed=0)
    rng = np.random.default_rng(1)
    x = rng.random((args.train_images, args.train_size, args.train_size, 3), np.float32)
    y = rng.integers(0, 100, args.train_images)
    steps = -(-args.train_images // args.train_batch)
    local, remote = pickle.loads(pickle.dumps(model)), pickle.loads(pickle.dumps(model))
    fastconv.set_num_threads(1)
    start = time.perf_counter()
    local.fit(x, y, epochs=1, batch_size=args.train_batch, verbose=False)
    one = time.perf_counter() - start
    before = loopback_bytes()
    fd.fit(pickle.loads(pickle.dumps(model)), x, y, client=client, epochs=0)   # the scatter only
    scatter = None if before is None else loopback_bytes() - before
    before = loopback_bytes()
    start = time.perf_counter()
    fd.fit(remote, x, y, client=client, epochs=1, batch_size=args.train_batch)
    two = time.perf_counter() - start
    wire = None if before is None else (loopback_bytes() - before - scatter) / steps
    drift = max(float(np.abs(a.params[k] - b.params[k]).max()) for (_, a, k), (_, b, _) in
                zip(local.network.parameters(), remote.network.parameters()))
    # the real messages of one step, serialized as dask.distributed does
    state = training.network_state(model.network)
    result = training.shard_step(x, y, pickle.loads(pickle.dumps(model)), state,
                                 np.arange(args.train_batch // 2), False)
    down, up = serialized_bytes(state), serialized_bytes(result)
    params = model.num_params()
    print(f"\nResNet-18 training, one epoch of {args.train_images} images "
          f"{args.train_size}x{args.train_size}, batch {args.train_batch} ({steps} steps, "
          f"{params:,} parameters):")
    print(f"  Model.fit, one process, 1 thread:          {one:7.2f} s")
    print(f"  fastconv.dask.fit, 2 processes x 1 thread: {two:7.2f} s  ({one / two:.2f}x; "
          f"largest parameter difference {drift:.2g})")
    print(f"\nPer training step and worker: {down / 1e6:.1f} MB down (parameters + buffers), "
          f"{up / 1e6:.1f} MB up (gradients); the client moves 2 workers x "
          f"{(down + up) / 1e6:.1f} = {2 * (down + up) / 1e6:.1f} MB per step")
    if wire is not None:
        print(f"  measured on the loopback interface: {wire / 1e6:.1f} MB per step "
              f"(after {scatter / 1e6:.1f} MB once for the data and the model)")
    print("\nAt scale (star through the client, as fastconv.dask.fit does, on a 10 Gbit/s "
          "client link), against a ring all-reduce of the gradients (not implemented):")
    print(f"  {'machines':>8}  {'client traffic/step':>20}  {'link time/step':>15}  "
          f"{'ring per machine':>17}  {'ring time/step':>15}")
    for workers in (8, 64, 512):
        star = workers * (down + up)
        ring = 2 * (workers - 1) / workers * up
        print(f"  {workers:8d}  {star / 1e9:17.2f} GB  {star / LINK:13.2f} s  "
              f"{ring / 1e6:14.1f} MB  {ring / LINK:13.3f} s")
    return one / two


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--train-images", type=int, default=128)
    parser.add_argument("--train-size", type=int, default=112)
    parser.add_argument("--train-batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from distributed import Client, LocalCluster
    print(f"fastconv {fastconv.__version__}, {usable_cores()} usable cores, "
          f"{fastconv._config.active_isa()} kernels; command: python "
          f"{' '.join([os.path.relpath(sys.argv[0])] + sys.argv[1:])}\n")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        print(f"workers: {fd.configure_workers(client)} (fastconv threads each)\n")
        inference(client, args)
        train_epoch(client, args)


if __name__ == "__main__":
    main()
