"""Kernel-set selection (FASTCONV_ISA), threads and show_config."""
import contextlib
import os
import platform
import sys

import numpy as np

from . import _args, _native

ISAS = {_native.isa_name(code): code
        for code in (_native.FC_ISA_GENERIC, _native.FC_ISA_AVX2, _native.FC_ISA_AVX512)}
ISA_NAMES = {code: name for name, code in ISAS.items()}


def supported_isas():
    """Names of the kernel sets this CPU can run, best first."""
    return [name for name, code in sorted(ISAS.items(), key=lambda kv: -kv[1])
            if _native.isa_supported(code)]


def use_isa(name):
    """Switch the active kernel set (tests use this; users set FASTCONV_ISA)."""
    key = str(name).lower()
    if key not in ISAS:
        raise ValueError(f"fastconv: unknown kernel set {name!r}; expected one of "
                         f"{', '.join(ISAS)}")
    if not _native.isa_supported(ISAS[key]):
        raise ValueError(f"fastconv: this CPU cannot run the {key} kernels; supported: "
                         f"{', '.join(supported_isas())}")
    _native.set_isa(ISAS[key])


def active_isa():
    return ISA_NAMES[_native.get_isa()]


def _init_from_environment():
    _check_omp_num_threads()
    _native.fma512_ratio()   # measured now, before any thread asks (the plans read it)
    forced = os.environ.get("FASTCONV_ISA", "").strip()
    if not forced:
        _native.set_isa(_native.best_isa())
        return
    try:
        use_isa(forced)
    except ValueError as exc:
        raise ValueError(f"FASTCONV_ISA={forced!r}: {exc}") from None


def thread_bound():
    """The most threads a call may use: 4 x the usable cores, at most OpenMP's
    thread limit (OMP_THREAD_LIMIT)."""
    return _native.thread_bound()


def _bound_text():
    return (f"{thread_bound()} (4 x the {_native.usable_cores()} usable cores, at most "
            f"OpenMP's thread limit)")


def set_num_threads(n):
    """Use n threads in every following call made from this thread (OpenMP's
    omp_set_num_threads, whose setting belongs to the calling thread)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"set_num_threads: n must be an integer, got {_args.shown(n)}")
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    if n > thread_bound():
        raise ValueError(f"set_num_threads: n must be at most {_bound_text()}, got {n}")
    _native.set_max_threads(int(n))


def get_num_threads():
    """The number of threads the next call from this thread will use: 1 without
    OpenMP, and 1 in a process forked after fastconv had run threads."""
    return _native.max_threads()


def forked_serial():
    """Whether this process is a child forked after fastconv had run threads,
    where every call runs on one thread (GNU OpenMP's pool does not survive fork)."""
    return _native.forked_serial()


def _check_omp_num_threads():
    """Warn (instead of failing later) about an OMP_NUM_THREADS that OpenMP
    ignores or that fastconv caps.  OpenMP reads the variable itself; this only
    says what happened."""
    value = os.environ.get("OMP_NUM_THREADS")
    if value is None or not _native.have_openmp():
        return
    import warnings
    first = value.split(",")[0].strip()
    if not (first.isdigit() and int(first) >= 1 and
            all(v.strip().isdigit() and int(v) >= 1 for v in value.split(","))):
        warnings.warn(f"fastconv: OMP_NUM_THREADS={value!r} is not a positive integer (or a "
                      f"comma-separated list of them); OpenMP ignores it and fastconv uses "
                      f"{get_num_threads()} threads", RuntimeWarning, stacklevel=3)
    elif int(first) > thread_bound():
        warnings.warn(f"fastconv: OMP_NUM_THREADS={value!r} asks for more threads than "
                      f"{_bound_text()}; fastconv uses {get_num_threads()}",
                      RuntimeWarning, stacklevel=3)


def ukernel_name(k):
    """A registered micro-kernel as show_config names it, e.g. 'f32 gemm 12x32 avx512'."""
    isa = ISA_NAMES[k["isa"]]
    if k["kind"] == "gemm":
        return f"{k['dtype']} gemm {k['mr']}x{k['nr']} {isa}"
    if k["kind"] == "pool":
        return f"{k['dtype']} pool {k['lanes']}-lane {isa}"
    return f"{k['dtype']} direct+winograd {k['lanes']}-lane {isa}"


def active_ukernels():
    """The micro-kernels the active kernel set runs, with their block sizes."""
    return [dict(k, title=ukernel_name(k)) for k in _native.ukernels() if k["active"]]


def cpu_model():
    """The CPU's model name as the operating system reports it ("" when unknown)."""
    import platform
    import subprocess
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "Model", "Hardware")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if platform.system() == "Darwin":
        try:
            return subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"],
                                  capture_output=True, text=True, timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor()


# _OPENMP dates and the OpenMP versions they stand for.
_OPENMP_SPECS = {200505: "2.5", 200805: "3.0", 201107: "3.1", 201307: "4.0", 201511: "4.5",
                 201811: "5.0", 202011: "5.1", 202111: "5.2", 202411: "6.0"}


def openmp_description():
    """'off', or the OpenMP version compiled against and the runtime library loaded."""
    if not _native.have_openmp():
        return "off (built without OpenMP: one thread)"
    spec = _native.openmp_spec()
    library = _native.openmp_library() or "runtime library not found"
    return f"OpenMP {_OPENMP_SPECS.get(spec, '?')} (_OPENMP={spec}), runtime {library}"


def show_config(mode="stdout"):
    """Print (mode='stdout') or return (mode='dicts') what a bug report needs:
    the version, the compiler and its flags, OpenMP (the version compiled
    against and the runtime library loaded) and the thread count, the CPU's
    model, features and caches, and the kernel set and micro-kernels in use with
    their cache blocks."""
    from . import __version__

    info = {
        "version": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "kernels": active_isa(),
        "supported_kernels": supported_isas(),
        "forced_by_env": os.environ.get("FASTCONV_ISA") or None,
        "threads": get_num_threads(),
        "thread_bound": thread_bound(),
        "openmp": _native.have_openmp(),
        "openmp_runtime": openmp_description(),
        "compiler": _native.compiler(),
        "cflags": _native.cflags(),
        "numpy": np.__version__,
        "cpu": cpu_model(),
        "cpu_features": _native.cpu_features(),
        "micro_kernels": [k["title"] for k in active_ukernels()],
        "caches": _native.cpu_caches(),
        "fma512_ratio": _native.fma512_ratio(),
        "workspace_kept": _native.workspace_kept(),
        "array_blocks_kept": _native.array_blocks_kept(),
    }
    if mode == "dicts":
        return info
    if mode != "stdout":
        raise ValueError(f"show_config: mode must be 'stdout' or 'dicts', got {mode!r}")
    forced = f" (forced by FASTCONV_ISA={info['forced_by_env']})" if info["forced_by_env"] else ""
    print(f"fastconv {info['version']}  (Python {info['python']}, NumPy {info['numpy']}, "
          f"{info['platform']})")
    print(f"  cpu:      {info['cpu'] or 'unknown model'}")
    print(f"  features: {' '.join(info['cpu_features']) or 'none of the x86 SIMD sets'}")
    print(f"  kernels:  {info['kernels']}{forced}; this CPU supports "
          f"{', '.join(info['supported_kernels'])}")
    caches = info["caches"]
    l3 = f", L3 {caches['l3'] // 1024} KiB" if caches["l3"] else ""
    print(f"  caches:   L1d {caches['l1d'] // 1024} KiB, L2 {caches['l2'] // 1024} KiB{l3} "
          f"(from {caches['source']}); GEMM blocks derived from them:")
    if info["fma512_ratio"]:   # the plan's use of it: conv_plan.tmpl.h, winograd_min_tiles
        print(f"  fma:      512-bit vectors at {info['fma512_ratio']:.1f}x the 256-bit FMA rate, "
              f"measured at import (about 1: 256-bit units; 2: full width)")
    for k in active_ukernels():
        edge = f"; {k['edge_mr']}-row twin for edge tiles" if k.get("edge_mr") else ""
        blocks = (f"mc {k['mc']}, kc {k['kc']}, nc {k['nc']} ({k['nc_direct']} with B in place){edge}"
                  if k["kind"] == "gemm" else "")
        print(f"    {k['title']:32s} {blocks}")
    forked = ("; a forked child: one thread" if forked_serial() else "")
    print(f"  threads:  {info['threads']} (at most {info['thread_bound']}{forked})")
    print(f"  openmp:   {info['openmp_runtime']}")
    print(f"  workspace: {info['workspace_kept'] / 2**20:.1f} MiB of freed kernel workspace and "
          f"{info['array_blocks_kept'] / 2**20:.1f} MiB of array blocks kept for reuse (at most "
          f"64 and 256; release_workspace() frees them)")
    print(f"  compiler: {info['compiler']}")
    print(f"  cflags:   {info['cflags']}")
    return None


def release_workspace():
    """Frees the kernel workspace and the array blocks kept for reuse (see
    kept_array_blocks) and returns their size in bytes.  The kernels keep
    freed blocks of 128 KiB or more, up to 64 MiB, for the next call (fresh
    pages cost the kernel a fault and zeroing on first touch); call this to
    hand that memory back, e.g. after a large model is done."""
    return _native.release_workspace() + _native.release_array_blocks()


@contextlib.contextmanager
def kept_array_blocks():
    """NumPy arrays created inside the block take their memory from fastconv's
    kept blocks: one of 128 KiB or more, once freed, is kept (up to 256 MiB in
    64 blocks) for the next array of about its size, so a loop that makes the
    same arrays every pass (a training step: Model.train_step uses it) stops
    faulting in fresh pages.  The arrays are ordinary, 64-byte aligned, and may
    outlive the block.  release_workspace() frees what is kept."""
    old = _native.set_array_handler(None)
    try:
        yield
    finally:
        _native.set_array_handler(old)


def peak_workspace(fn, *args, **kwargs):
    """(fn(*args, **kwargs), the most kernel workspace in bytes in use during
    the call beyond what was in use before it).  Outputs (NumPy arrays) are not
    counted.  Calls running at the same time in other threads count too."""
    before = _native.workspace_in_use()
    _native.reset_workspace_peak()
    result = fn(*args, **kwargs)
    return result, _native.workspace_peak() - before
