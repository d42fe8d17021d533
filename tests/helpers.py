"""Tolerances, shape sets and small utilities shared by the tests."""
import contextlib
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest

import fastconv
from fastconv import _config
from fastconv import reference as ref

DTYPES = (np.float32, np.float64)
LAYOUTS = ("NHWC", "NCHW")

# float64: ~1e-10 relative to the result's magnitude; float32: 1e-5.
TOLERANCE = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}


def assert_close(out, ref, magnitude=None):
    """|out - ref| <= tol * magnitude everywhere, where magnitude (default: the
    largest |ref|) is the size of the terms that were summed: a number, or an
    array of such sizes (e.g. |x| @ |w|) whose largest entry is taken."""
    assert out.dtype == ref.dtype, (out.dtype, ref.dtype)
    assert out.shape == ref.shape, (out.shape, ref.shape)
    if out.size == 0:
        return
    if magnitude is None:
        magnitude = ref[np.isfinite(ref)]
    magnitude = np.max(np.abs(magnitude), initial=0.0)
    tol = TOLERANCE[out.dtype] * max(float(magnitude), 1.0)
    both_nan = np.isnan(out) & np.isnan(ref)
    err = np.where(both_nan, 0.0, np.abs(out.astype(np.float64) - ref.astype(np.float64)))
    worst = np.nanmax(err) if np.isfinite(err).all() else np.inf
    assert worst <= tol, f"max error {worst:.3g} > {tol:.3g} (magnitude {magnitude:.3g})"


def assert_conv_backward_close(got, dy, x, w, **kw):
    """got = (dx, dw, db) of conv2d_backward against the reference, each within
    the tolerance for the terms it sums (|dy| * |w| for dx, |x| * |dy| for dw)."""
    want = ref.conv2d_backward(dy, x, w, **kw)
    mags = ref.conv2d_backward(np.abs(dy), np.abs(x), np.abs(w), **kw)
    for g, r, m in zip(got, want, mags):
        assert_close(g, r, m)


def numeric_grad(f, arr, idx=None, eps=1e-6):
    """Central differences of the scalar f() with respect to the entries of the
    float64 array arr, which f reads and which is changed in place and restored:
    every entry (a result shaped like arr), or the flat positions idx (1-D)."""
    flat = arr.reshape(-1)
    assert np.shares_memory(flat, arr), "arr must be contiguous so that f sees the changes"
    positions = range(flat.size) if idx is None else idx
    grads = np.empty(len(positions))
    for j, i in enumerate(positions):
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        grads[j] = (up - down) / (2 * eps)
    return grads.reshape(arr.shape) if idx is None else grads


def run_python(*args, cwd=None, same_build=True, timeout=None, **env):
    """Run `python *args` in a new interpreter, by default in a temporary folder
    outside the source tree.  With same_build, the child imports the same
    fastconv as this process (its folder goes first on PYTHONPATH); env adds
    environment variables; past `timeout` seconds the child is killed and
    subprocess.TimeoutExpired raised."""
    full_env = dict(os.environ, **env)
    if same_build:
        here = os.path.dirname(os.path.dirname(fastconv.__file__))
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, full_env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd or tempfile.gettempdir(), timeout=timeout)


def rand(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


HAVE_OPENMP = fastconv.show_config("dicts")["openmp"]
# comparing 1 and 2 threads proves nothing where both run on one thread
requires_openmp = pytest.mark.skipif(
    not HAVE_OPENMP, reason="this build has no OpenMP: every call runs on one thread")
# comparing kernel sets proves nothing where the CPU runs only one
requires_several_isas = pytest.mark.skipif(
    len(_config.supported_isas()) < 2,
    reason=f"this CPU supports one kernel set only ({', '.join(_config.supported_isas())})")


@contextlib.contextmanager
def threads(n):
    old = fastconv.get_num_threads()
    fastconv.set_num_threads(n)
    assert fastconv.get_num_threads() == (n if HAVE_OPENMP else 1)
    try:
        yield
    finally:
        fastconv.set_num_threads(old)


def same_bits_on_1_and_2_threads(call):
    """call() on 1 and on 2 threads; asserts the results are bit for bit equal
    and returns the first."""
    with threads(1):
        one = call()
    with threads(2):
        two = call()
    np.testing.assert_array_equal(one, two)
    return one


@contextlib.contextmanager
def isa(name):
    old = _config.active_isa()
    _config.use_isa(name)
    try:
        yield
    finally:
        _config.use_isa(old)


def to_layout(x_nhwc, w_rsck, layout):
    """NHWC data and (R, S, C, K) weights in `layout`'s shapes."""
    if layout == "NHWC":
        return x_nhwc, w_rsck
    xt = np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2)) if x_nhwc.ndim == 4 else \
        np.ascontiguousarray(x_nhwc.transpose(2, 0, 1))
    return xt, np.ascontiguousarray(w_rsck.transpose(3, 2, 0, 1))


# (N, H, W, C, K, R, S, stride, padding, dilation, groups).  N, H, W and C
# differ in every case (but the 1x1 image), so that the NCHW and NHWC shapes
# differ and swapping two axes changes the result.
CONV_CASES = [
    (2, 7, 9, 3, 5, 3, 3, 1, 0, 1, 1),
    (1, 11, 13, 7, 11, 5, 5, 2, 2, 1, 1),
    (3, 8, 9, 6, 4, 1, 1, 1, 0, 1, 1),                 # 1x1
    (2, 9, 7, 4, 6, 1, 1, 2, 0, 1, 2),                 # 1x1 strided, grouped
    (2, 10, 12, 5, 7, 1, 3, 1, (0, 1), 1, 1),          # 1x3
    (1, 12, 10, 3, 4, 3, 1, (2, 1), 1, 1, 1),          # 3x1
    (2, 9, 10, 4, 5, 2, 4, 3, ((1, 2), (0, 3)), 1, 1),  # 2x4, stride > kernel, asymmetric
    (1, 13, 11, 6, 6, 3, 3, 1, "same", 2, 3),          # dilation + groups
    (2, 9, 10, 8, 8, 3, 3, 1, 1, 1, 8),                # depthwise
    (2, 8, 9, 4, 8, 3, 3, 2, "same", 1, 4),            # depthwise, multiplier 2
    (1, 5, 6, 2, 3, 3, 3, 1, 3, 1, 1),                 # padding > kernel / 2
    (0, 6, 7, 3, 4, 3, 3, 1, 1, 1, 1),                 # empty batch
    (2, 16, 15, 13, 17, 3, 3, 1, 1, 1, 1),             # prime channels
    (1, 20, 19, 37, 29, 3, 3, 2, "valid", 1, 1),
    (1, 1, 1, 3, 2, 1, 1, 1, 0, 1, 1),                 # 1x1 image
    (1, 12, 11, 64, 40, 3, 3, 1, 1, 1, 1),             # depth 576: several KC blocks
    (1, 6, 7, 8, 600, 1, 1, 1, 0, 1, 1),               # 600 outputs: several NC blocks
    (2, 31, 29, 5, 9, 5, 5, 1, "same", 1, 1),          # many rows: several MC blocks
    (1, 9, 10, 3, 4, 3, 3, 3, "same", 3, 1),           # 'same' with stride and dilation
]


def conv_case_id(case):
    n, h, w, c, k, r, s, st, pad, dil, g = case
    return f"n{n}-{h}x{w}-c{c}k{k}-{r}x{s}-s{st}-p{pad}-d{dil}-g{g}".replace(" ", "")


def conv_kwargs(case):
    *_, stride, padding, dilation, groups = case
    return dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


def conv_inputs(case, dtype, rng, layout="NHWC"):
    n, h, w, c, k, r, s, _, _, _, groups = case
    x = rand(rng, (n, h, w, c), dtype)
    wt = rand(rng, (r, s, c // groups, k), dtype)
    b = rand(rng, (k,), dtype)
    x, wt = to_layout(x, wt, layout)
    return x, wt, b


# (N, H, W, C, size, stride, padding), N, H, W and C distinct as above
POOL_CASES = [
    (2, 8, 9, 3, 2, None, 0),
    (1, 9, 11, 5, 3, 2, 1),
    (2, 7, 8, 4, (2, 3), (1, 2), ((1, 0), (2, 1))),
    (1, 10, 9, 6, 3, 1, "same"),
    (3, 5, 6, 17, 5, 5, "valid"),
    (0, 4, 5, 2, 2, None, 0),
    (1, 13, 12, 2, 2, 3, 0),                            # stride > size
]


def pool_case_id(case):
    n, h, w, c, size, stride, pad = case
    return f"n{n}-{h}x{w}-c{c}-k{size}-s{stride}-p{pad}".replace(" ", "")


def distinct_nchw(shape):
    """Whether an (N, H, W, C) shape tells NCHW from NHWC in every axis."""
    return len(set(shape)) == 4


def run_with_deadline(fn, seconds, what="the call"):
    """fn() in a daemon thread; its result, or its exception raised here, or a
    test failure when it has not finished within `seconds` (the thread is left
    behind, and cannot keep the interpreter from exiting)."""
    import threading
    box = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:        # handed to the test's thread
            box["error"] = exc
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"{what} did not finish within {seconds} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


# pooling options: (N, H, W, C, size, stride, padding, dilation, ceil_mode,
# count_include_pad), N, H, W and C distinct
POOL_OPTION_CASES = [
    (2, 7, 9, 3, 3, 2, 1, 1, True, False),              # ceil: a last partial window
    (1, 9, 8, 4, 3, 2, 1, 1, True, True),               # ceil + count_include_pad
    (3, 6, 7, 2, 2, 2, ((1, 0), (0, 1)), 1, True, True),
    (2, 5, 6, 4, 3, 3, 1, 1, True, True),               # last window starts on the pad: dropped
    (1, 10, 11, 3, 3, 1, 2, 2, False, False),           # dilation
    (2, 9, 7, 5, (2, 3), (2, 1), (1, 2), (3, 2), True, True),
    (1, 8, 9, 2, 2, 1, "same", 2, False, True),
    (2, 6, 5, 3, 3, 1, 1, 1, False, True),              # count_include_pad alone
]


def pool_option_id(case):
    n, h, w, c, size, stride, pad, dil, ceil, inc = case
    return (f"n{n}-{h}x{w}-c{c}-k{size}-s{stride}-p{pad}-d{dil}" + ("-ceil" if ceil else "") +
            ("-incpad" if inc else "")).replace(" ", "")


def pool_option_kwargs(kind, case):
    *_, size, stride, padding, dilation, ceil_mode, count_include_pad = case
    kw = dict(size=size, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    if kind == "avg":
        kw["count_include_pad"] = count_include_pad
    return kw
