"""fastconv.dask's convolution and pooling on Dask's threaded scheduler: the
halo plan, and results equal to fastconv's on the computed array (the same
algorithm for every block, so the same bits)."""
import platform

import numpy as np
import pytest

da = pytest.importorskip("dask.array")

import fastconv                                           # noqa: E402
import fastconv.dask as fd                                # noqa: E402
from fastconv.dask import workers                         # noqa: E402
from fastconv.dask.halo import plan_axis                  # noqa: E402
from helpers import run_with_deadline, run_python         # noqa: E402

DEADLINE = 60


def compute(arr, **kw):
    return run_with_deadline(lambda: arr.compute(scheduler="threads", **kw), DEADLINE,
                             "a dask computation")


@pytest.mark.parametrize("size,chunks,extent,stride,pad,align", [
    (17, (5, 6, 6), 3, 1, 1, 1), (17, (5, 6, 6), 3, 2, 1, 1), (23, (4, 7, 12), 9, 3, 4, 1),
    (16, (3, 5, 8), 2, 4, 0, 1), (30, (7,) * 4 + (2,), 7, 1, 0, 1), (41, (9, 9, 9, 14), 3, 1, 1, 2),
    (12, (1,) * 12, 5, 1, 2, 1), (9, (9,), 3, 1, 1, 1), (20, (2, 18), 11, 2, 5, 1),
])
def test_plan_axis_blocks_cover_the_outputs_with_aligned_starts(size, chunks, extent, stride,
                                                                pad, align):
    out = (size + 2 * pad - extent) // stride + 1
    plan = plan_axis(size, chunks, extent, stride, pad, out, align)
    assert sum(plan.in_chunks) == size and sum(plan.out_chunks) == out
    assert min(plan.out_chunks) >= 1
    if len(plan.in_chunks) > 1:
        assert min(plan.in_chunks) >= plan.depth == max(extent - stride, 0)
    start, first = 0, 0
    for k, (rows, n_out, (before, after)) in enumerate(zip(plan.in_chunks, plan.out_chunks,
                                                           plan.pads)):
        assert (start + pad) == first * stride or k == 0        # starts where its first window does
        assert before == (pad if k == 0 else 0)
        assert k == 0 or first % align == 0
        end = min(start + rows + (plan.depth if k < len(plan.in_chunks) - 1 else 0), size)
        # the padded block holds every window of its outputs, and no window more is asked for
        assert (end - start + before + after - extent) // stride + 1 >= n_out
        assert (first + n_out - 1) * stride - pad + extent <= end + after
        assert after <= pad
        start, first = start + rows, first + n_out


# (x shape NHWC, w shape RSCK, chunks (h, w), conv keywords)
CONV_CASES = [
    ((3, 17, 19, 3), (3, 3, 3, 5), (5, 6), dict(padding=1)),
    ((3, 17, 19, 3), (3, 3, 3, 5), (5, 6), dict(padding=1, stride=2)),
    ((2, 23, 21, 4), (5, 3, 4, 6), (4, 7), dict(padding="same", stride=3, dilation=2)),
    ((2, 16, 18, 2), (2, 2, 2, 3), (3, 5), dict(stride=4)),             # stride > kernel
    ((2, 30, 30, 8), (3, 3, 8, 8), (7, 7), dict(padding="valid", dilation=3)),
    ((2, 12, 13, 8), (1, 1, 8, 8), (5, 4), dict(stride=2)),
    ((2, 19, 20, 6), (3, 3, 2, 6), (6, 5), dict(padding=((2, 0), (1, 3)), groups=3)),
    ((2, 15, 14, 4), (4, 2, 4, 5), (4, 4), dict(padding=((0, 3), (1, 0)))),
]


@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
@pytest.mark.parametrize("xs,ws,chunks,kw", CONV_CASES)
def test_conv2d_equals_fastconv_on_the_computed_array(xs, ws, chunks, kw, layout, rng):
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[-1]).astype(np.float32)
    block = (1,) + chunks + (-1,)
    if layout == "NCHW":
        x, w = x.transpose(0, 3, 1, 2).copy(), w.transpose(3, 2, 0, 1).copy()
        block = (1, -1) + chunks
    want = fastconv.conv2d(x, w, b, activation="relu", layout=layout, **kw)
    y = fd.conv2d(da.from_array(x, chunks=block), w, b, activation="relu", layout=layout, **kw)
    assert y.shape == want.shape and y.dtype == want.dtype
    spatial = (1, 2) if layout == "NHWC" else (2, 3)
    assert sum(len(y.chunks[a]) for a in spatial) > 2          # the image really was split
    np.testing.assert_array_equal(compute(y), want)


@pytest.mark.parametrize("algorithm,xs,ws,kw", [
    ("winograd", (2, 37, 41, 16), (3, 3, 16, 24), dict(padding=1)),
    ("auto", (2, 70, 70, 64), (3, 3, 64, 64), dict(padding=1)),          # auto picks winograd
    ("direct", (2, 30, 33, 3), (5, 5, 3, 4), dict(padding=2)),
    ("depthwise", (2, 30, 33, 8), (3, 3, 1, 16), dict(padding=1, stride=2, groups=8)),
    ("gemm", (2, 30, 33, 8), (3, 3, 8, 16), dict(padding="same", stride=2, dilation=2)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_each_algorithm_gives_the_same_bits_in_blocks(algorithm, xs, ws, kw, dtype, rng):
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    want = fastconv.conv2d(x, w, algorithm=algorithm, **kw)
    for chunks in [(7, 9), (11, 5)]:
        y = fd.conv2d(da.from_array(x, chunks=(1,) + chunks + (-1,)), w, algorithm=algorithm,
                      **kw)
        np.testing.assert_array_equal(compute(y), want)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
@pytest.mark.parametrize("size,stride,padding,chunks", [
    (2, None, 0, (5, 4)), (3, 2, 1, (5, 6)), ((3, 2), (2, 1), ((2, 1), (0, 1)), (4, 7)),
    (5, 3, "same", (6, 6)),
])
def test_pooling_equals_fastconv_on_the_computed_array(kind, layout, size, stride, padding,
                                                       chunks, rng):
    x = rng.standard_normal((3, 21, 22, 5)).astype(np.float64)
    x[0, 3, 4, 1] = np.nan                                   # NaN propagates through halos too
    block = (2,) + chunks + (-1,)
    if layout == "NCHW":
        x, block = x.transpose(0, 3, 1, 2).copy(), (2, -1) + chunks
    op, dop = getattr(fastconv, f"{kind}_pool2d"), getattr(fd, f"{kind}_pool2d")
    want = op(x, size, stride, padding, layout=layout)
    got = compute(dop(da.from_array(x, chunks=block), size, stride, padding, layout=layout))
    np.testing.assert_array_equal(got, want)


def test_a_chain_of_layers_stays_lazy_and_equal(rng):
    x = rng.standard_normal((4, 32, 30, 3)).astype(np.float32)
    w1 = rng.standard_normal((3, 3, 3, 8)).astype(np.float32)
    w2 = rng.standard_normal((3, 3, 8, 8)).astype(np.float32)
    want = fastconv.avg_pool2d(fastconv.conv2d(fastconv.max_pool2d(
        fastconv.conv2d(x, w1, padding=1, activation="relu"), 2), w2, padding=1), 2)
    xd = da.from_array(x, chunks=(2, 10, 10, 3))
    y = fd.avg_pool2d(fd.conv2d(fd.max_pool2d(fd.conv2d(xd, w1, padding=1, activation="relu"),
                                              2), w2, padding=1), 2)
    np.testing.assert_array_equal(compute(y), want)


def test_weights_are_one_key_of_the_graph(rng):
    x = da.from_array(rng.standard_normal((2, 20, 20, 3)).astype(np.float32),
                      chunks=(1, 5, 5, 3))
    y = fd.conv2d(x, rng.standard_normal((3, 3, 3, 4)).astype(np.float32), padding=1)
    keys = [k for k in dict(y.__dask_graph__()) if "fastconv-weights" in str(k)]
    assert len(keys) == 1 and y.npartitions > 8


def test_predict_on_the_threaded_scheduler_holds_the_model_once(rng):
    from fastconv import models
    model = models.lenet5(num_classes=4)
    x = rng.random((9, 32, 32, 1)).astype(np.float32)
    y = fd.predict(model, x, batch_size=2)
    assert y.chunks == ((2, 2, 2, 2, 1), (4,))
    assert len([k for k in dict(y.__dask_graph__()) if "fastconv-model" in str(k)]) == 1
    # threads share the model object: each predicts with its own copy
    np.testing.assert_array_equal(compute(y, num_workers=4), model.predict(x, batch_size=2))


def test_threaded_scheduler_tasks_share_the_cores():
    def seen(block):
        with workers.use_task_threads():
            return np.full(block.shape, fastconv.get_num_threads())
    import dask
    x = da.zeros((8,), chunks=1)
    cores = workers.usable_cores()
    for pool in (1, 2, 64):
        with dask.config.set(num_workers=pool):
            got = compute(x.map_blocks(seen, dtype=float))
        assert (got == max(1, cores // pool)).all(), (pool, got)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_workers_can_serve_mid_sized_allocations_from_the_heap():
    assert workers.heap_below_32_mib()


def test_bad_input_is_named():
    w = np.ones((3, 3, 3, 4), np.float32)
    with pytest.raises(TypeError, match="fastconv.dask.conv2d: x must be a dask array"):
        fd.conv2d(np.ones((1, 8, 8, 3)), w)
    with pytest.raises(ValueError, match="fastconv.dask.max_pool2d: x must be a batch of images"):
        fd.max_pool2d(da.ones((8, 8, 3)), 2)
    with pytest.raises(ValueError, match="x has 5 channels but w expects 3"):
        fd.conv2d(da.ones((1, 8, 8, 5)), w)
    with pytest.raises(ValueError, match="padding .* must be smaller than the window"):
        fd.avg_pool2d(da.ones((1, 8, 8, 3)), 2, padding=2)
    x = da.ones((4, 8, 8, 3))
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        fd.conv2d(x[x[:, 0, 0, 0] > 0], w)


def test_fastconv_works_without_dask_and_says_what_to_install():
    proc = run_python("-c", "import sys; sys.modules['dask'] = None\n"
                      "import fastconv, fastconv.nn, fastconv.models\n"
                      "try:\n    import fastconv.dask\n"
                      "except ImportError as e:\n    print('IMPORT-ERROR', e)\n",
                      timeout=DEADLINE)
    assert proc.returncode == 0, proc.stderr
    assert "IMPORT-ERROR fastconv.dask needs dask: pip install \"fastconv[dask]\"" in proc.stdout
    proc = run_python("-c", "import sys, fastconv, fastconv.nn, fastconv.models, fastconv.train\n"
                      "print(sorted(m for m in sys.modules if m.split('.')[0] in "
                      "('dask', 'distributed')))", timeout=DEADLINE)
    assert proc.stdout.strip() == "[]", proc.stdout
