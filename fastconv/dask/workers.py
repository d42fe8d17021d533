"""fastconv's threads inside Dask tasks, and per-thread copies of a model.

A Dask worker runs several tasks at once, one per worker thread, and each
fastconv call in a task runs an OpenMP team of its own.  So that fastconv's
threads x the worker's threads never exceed the cores, fastconv.dask's tasks
set fastconv's thread count (a per-thread setting in OpenMP) for the thread
that runs them:

- on a dask.distributed worker configured by configure_workers (fit and
  predict call it): the worker's share of its machine, the usable cores //
  the threads of all the workers on that machine;
- on a worker not configured: at most the usable cores // its threads (and no
  more than the worker's own setting: the nanny starts workers with
  OMP_NUM_THREADS=1);
- in the threads of Dask's local threaded scheduler: the usable cores // its
  pool size (dask's num_workers, by default the number of cores);
- in the calling thread (the synchronous scheduler): fastconv's own setting.
"""
import contextlib
import ctypes
import os
import pickle
import sys
import threading
from collections import defaultdict

import dask

from .. import _config

_worker_share = None      # set on each worker by configure_workers
_local = threading.local()


def usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:       # not Linux
        return os.cpu_count() or 1


def _current_worker():
    distributed = sys.modules.get("distributed")     # a worker's process has imported it
    if distributed is None:
        return None
    try:
        return distributed.get_worker()
    except ValueError:
        return None


def _worker_nthreads(worker):
    return getattr(worker, "nthreads", None) or worker.state.nthreads


def task_threads():
    """The fastconv threads for a task running in this thread, or None to keep
    this thread's setting (see the module's docstring)."""
    worker = _current_worker()
    if worker is not None:
        if _worker_share is not None:
            return _worker_share
        return max(1, min(_config.get_num_threads(), usable_cores() // _worker_nthreads(worker)))
    if threading.current_thread() is threading.main_thread():
        return None
    pool = dask.config.get("num_workers", None) or usable_cores()
    return max(1, usable_cores() // pool)


@contextlib.contextmanager
def use_task_threads():
    """Run the body with task_threads() fastconv threads in this thread."""
    n = task_threads()
    old = _config.get_num_threads()
    if n is None or n == old:
        yield
        return
    _config.set_num_threads(min(n, _config.thread_bound()))
    try:
        yield
    finally:
        _config.set_num_threads(old)


def _configure(shares, tune_malloc, dask_worker=None):
    global _worker_share
    _worker_share = shares[dask_worker.address]
    if tune_malloc:
        heap_below_32_mib()
    return _worker_share


def heap_below_32_mib():
    """glibc: serve allocations below 32 MiB from the heap instead of fresh
    mmaps (mallopt M_MMAP_THRESHOLD).  Whether it was set."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:                     # not glibc
        return False
    m_mmap_threshold = -3
    return bool(getattr(libc, "mallopt", lambda *_: 0)(m_mmap_threshold, 32 << 20))


def worker_info(client):
    """{address: the scheduler's record of the worker} for every worker."""
    try:
        info = client.scheduler_info(n_workers=-1)
    except TypeError:                       # distributed before 2025 lists every worker
        info = client.scheduler_info()
    return info["workers"]


def configure_workers(client, tune_malloc=True):
    """Give each of the client's workers its share of its machine's cores: the
    usable cores // the threads of all the workers on that machine (at least
    1).  fastconv.dask's tasks then run fastconv with that many threads.
    Returns {worker address: fastconv threads}.

    tune_malloc: Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536,
    which also freezes glibc's mmap threshold at 128 KiB, so that every
    workspace and activation fastconv allocates is a fresh mmap, paid for in
    page faults (ResNet-18 inference 1.5x slower).  With tune_malloc the
    workers serve allocations below 32 MiB from the heap again; the trim
    threshold stays as Dask set it."""
    workers = worker_info(client)
    cores = client.run(usable_cores)
    per_host = defaultdict(int)
    for record in workers.values():
        per_host[record["host"]] += record["nthreads"]
    shares = {addr: max(1, cores[addr] // per_host[record["host"]])
              for addr, record in workers.items() if addr in cores}
    client.run(_configure, shares, bool(tune_malloc), workers=list(shares))
    return shares


_in_use = set()               # ids of the objects a task is using now
_in_use_lock = threading.Lock()


@contextlib.contextmanager
def private(obj):
    """obj itself when no other task uses it now, else this thread's own copy
    of it.  Layers keep per-call caches, so two threads running one model at
    once would overwrite each other's."""
    with _in_use_lock:
        free = id(obj) not in _in_use
        _in_use.add(id(obj))
    if not free:
        yield thread_copy(obj)
        return
    try:
        yield obj
    finally:
        with _in_use_lock:
            _in_use.discard(id(obj))


def thread_copy(obj):
    """A copy of obj (pickled and unpickled: no caches) private to this thread,
    made once per thread and object (the thread holds on to the last object
    it copied)."""
    held = getattr(_local, "held", None)
    if held is None or held[0] is not obj:
        held = (obj, pickle.loads(pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)))
        _local.held = held
    return held[1]
