"""The inference path's activation arena (nn/arena.py): a pool of reused
buffers while a call for a new input shape records its lifetimes, then one
planned slab for every later call with that shape."""
import tracemalloc

import numpy as np
import pytest

from fastconv import models
from fastconv.nn.arena import Arena, place


def overlaps(a0, a1, b0, b1):
    return a0 < b1 and b0 < a1


@pytest.mark.parametrize("seed", range(5))
def test_place_never_overlaps_buffers_live_together(seed):
    rng = np.random.default_rng(seed)
    lifetimes = []
    for _ in range(40):
        first = int(rng.integers(0, 60))
        lifetimes.append((first, first + int(rng.integers(0, 12)), 64 * int(rng.integers(1, 50))))
    offsets, total = place(lifetimes)
    for i, (f, l, n) in enumerate(lifetimes):
        assert offsets[i] % 64 == 0 and offsets[i] + n <= total
        for j, (f2, l2, n2) in enumerate(lifetimes[:i]):
            if f <= l2 and f2 <= l:     # live at the same event
                assert not overlaps(offsets[i], offsets[i] + n, offsets[j], offsets[j] + n2), (i, j)
    live_peak = max(sum(n for f, l, n in lifetimes if f <= t <= l) for t in range(75))
    assert live_peak <= total <= sum(n for _, _, n in lifetimes)


def test_place_fits_a_chain_in_its_largest_neighbouring_pair():
    # a network's chain: each activation lives from its layer to the next one's
    sizes = [64 * k for k in (4, 1, 4, 1, 4, 2)]
    offsets, total = place([(i, i + 1, n) for i, n in enumerate(sizes)])
    assert total == 64 * 6


def run_calls(arena, sizes):
    """One call: a chain of buffers of these sizes (bytes), each released after
    the next is taken; returns the buffers, checked not to overlap a live one."""
    taken, prev = [], None
    for n in sizes:
        buf = arena.take((n,), np.uint8)
        if prev is not None:
            assert not np.shares_memory(buf, prev)
            arena.release(prev)
        taken.append(buf)
        prev = buf
    return taken


def test_a_second_call_takes_planned_buffers_from_one_slab():
    arena = Arena()
    sizes = [1 << 20, 64, 1 << 20, 64, 1000]
    arena.begin("k")
    run_calls(arena, sizes)
    arena.end()
    assert arena.nbytes == (1 << 20) + 64   # the largest neighbouring pair
    arena.begin("k")
    tracemalloc.start()
    try:
        bufs = run_calls(arena, sizes)
        allocated = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert allocated < 10000                  # views only, no buffers
    assert all(arena.holds(b) for b in bufs)
    arena.end()
    assert arena.nbytes == (1 << 20) + 64


def test_a_call_that_leaves_its_plan_gets_fresh_buffers_and_records_again():
    arena = Arena()
    arena.begin("k")
    first, second = [1 << 16, 1 << 15, 1 << 16], [1 << 16, 1 << 17, 1 << 16]
    run_calls(arena, first)
    arena.end()
    arena.begin("k")
    bufs = run_calls(arena, second)           # the second take differs from the plan
    arena.end()
    assert [b.nbytes for b in bufs] == second
    arena.begin("k")                          # the plan was dropped: this call records
    run_calls(arena, second)
    arena.end()
    arena.begin("k")                          # and this one follows the new plan
    tracemalloc.start()
    try:
        run_calls(arena, second)
        allocated = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    arena.end()
    assert allocated < 10000
    assert arena.nbytes == 3 << 16


def test_an_interrupted_call_leaves_no_plan():
    arena = Arena()
    arena.begin("k")
    run_calls(arena, [256, 128])
    arena.end(completed=False)
    assert arena.nbytes == 256 + 128          # the pool's buffers, no slab
    arena.begin("k")
    run_calls(arena, [256, 128])
    arena.end()
    assert arena.nbytes == 256 + 128


def test_every_model_gives_the_same_bits_recording_and_following_its_plan():
    model = models.inception(num_classes=10, input_size=64)
    x = np.random.default_rng(3).standard_normal((2, 64, 64, 3)).astype(np.float32)
    small = x[:1].copy()
    first = model.predict(x)
    np.testing.assert_array_equal(model.predict(x), first)
    once = model.predict(small)               # a second shape: a second plan
    np.testing.assert_array_equal(model.predict(x), first)
    np.testing.assert_array_equal(model.predict(small), once)


def test_the_pool_reuses_the_smallest_fitting_buffer():
    arena = Arena()
    a = arena.take((10, 10), np.float32)
    b = arena.take((100,), np.float64)
    arena.release(a)
    arena.release(b)
    c = arena.take((5, 5), np.float32)                # fits in a's 400 bytes
    assert np.shares_memory(c, a) and not np.shares_memory(c, b)
    view = c.reshape(-1)
    arena.release(view)                               # a view releases its buffer
    assert not arena.owns(c)
    d = arena.take((3,), np.float32)
    arena.release(d, keep=d)                          # kept: it shares memory with keep
    assert arena.owns(d)
    arena.release_all()
    assert not arena.owns(d)
