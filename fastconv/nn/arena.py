"""The inference path's activation buffers, planned like an inference engine's.

The first call for an input shape records when each buffer is taken and
released, from a pool of reused buffers (take() hands out the smallest free
one that fits).  At the end of that call the buffers get fixed offsets in
one slab, placed so that two buffers live at the same time never overlap
(greedy by size: the largest first, each into the tightest gap among the
buffers whose lifetimes meet it).  Later calls with the same shape take
their buffers from the slab in the same order: they allocate nothing, and
the slab is about the peak of the live set, where a pool of whole buffers
holds more (a small activation parked in a large free buffer forces a new
one for the next large activation: GoogLeNet at batch 8 kept 49 MiB of
buffers for a 30.6 MiB live set).

A call that asks for a different size than its plan (nothing in the
compiled steps does, but a layer the plan does not know might) gets fresh
buffers for the rest of the call and the plan is dropped: the next call
records again.
"""
import math

import numpy as np

from .. import _args

_ALIGN = 64          # every buffer starts on a cache line (the kernels' streaming stores)
_MAX_PLANS = 16      # input shapes remembered per arena


def _address(a):
    return a.ctypes.data   # (__array_interface__ built a dict: 1.3 against 0.8 us)


def _rounded(nbytes):
    return max(_ALIGN, -(-nbytes // _ALIGN) * _ALIGN)


def place(lifetimes):
    """Offsets for buffers given as (first event, last event, bytes): the
    largest first, each at the start of the smallest gap (or past the end)
    among the placed buffers whose lifetimes overlap its own.  Returns the
    offsets (in the order given) and the total bytes."""
    offsets = [0] * len(lifetimes)
    placed = []
    for i in sorted(range(len(lifetimes)), key=lambda i: -lifetimes[i][2]):
        first, last, nbytes = lifetimes[i]
        taken = sorted((offsets[j], offsets[j] + lifetimes[j][2]) for j in placed
                       if lifetimes[j][0] <= last and first <= lifetimes[j][1])
        best, end = None, 0
        for lo, hi in taken:
            if lo - end >= nbytes and (best is None or lo - end < best[1]):
                best = (end, lo - end)
            end = max(end, hi)
        offsets[i] = end if best is None else best[0]
        placed.append(i)
    total = max((o + lt[2] for o, lt in zip(offsets, lifetimes)), default=0)
    return offsets, total


class Arena:
    """Activation buffers for one thread's sequential calls: begin(key),
    take() / release() as the steps run, end()."""

    def __init__(self):
        self._free = []        # pool buffers not in use, smallest first
        self._used = {}        # first byte's address -> buffer (pool buffer or slab view)
        self._plans = {}       # key -> [(offset, bytes)] in the order of the takes
        self._slab = None
        self._key = None
        self._plan = None      # the plan this call follows, None: from the pool
        self._record = None    # this call's lifetimes, while recording: [first, last, bytes]
        self._index = {}       # recording: address -> its lifetime's position
        self._event = 0        # takes and releases so far in this call
        self._taken = 0        # takes so far in this call

    # -- a call ----------------------------------------------------------------------
    def begin(self, key):
        """Start a call for inputs described by key (hashable)."""
        self._record = None
        self.release_all()
        self._key, self._event, self._taken, self._index = key, 0, 0, {}
        self._plan = self._plans.get(key)
        self._record = [] if self._plan is None else None

    def end(self, completed=True):
        """End the call: a completed recording becomes the key's plan."""
        record, key = self._record, self._key
        self.release_all()
        self._record = self._plan = self._key = None
        if not completed or not record:
            return
        offsets, total = place(record)
        if len(self._plans) >= _MAX_PLANS:
            self._plans.clear()
        self._plans[key] = [(o, lt[2]) for o, lt in zip(offsets, record)]
        self._free = []                            # the pool served the recording only
        if self._slab is None or self._slab.nbytes < total:
            self._slab = None                      # the old slab goes before the new one comes
            self._slab = _args.empty_aligned((total,), np.uint8)

    # -- the steps' side -------------------------------------------------------------
    def take(self, shape, dtype):
        dtype = np.dtype(dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        buf = self._from_plan(nbytes) if self._plan is not None else None
        if buf is None:
            buf = self._from_pool(nbytes)
            if self._record is not None:
                self._index[_address(buf)] = len(self._record)
                self._record.append([self._event, None, _rounded(nbytes)])
        self._event += 1
        self._used[_address(buf)] = buf
        return buf[:nbytes].view(dtype).reshape(shape)

    def owns(self, a):
        """a starts at a buffer handed out and not yet released."""
        return isinstance(a, np.ndarray) and _address(a) in self._used

    def holds(self, a):
        """a may share memory with a buffer of the arena, in use or free."""
        bufs = (*self._free, *self._used.values(), *([] if self._slab is None else [self._slab]))
        return any(np.may_share_memory(a, b) for b in bufs)

    def release(self, a, keep=None):
        """Give a's buffer back, unless a may share memory with keep (the caller's input)."""
        if not self.owns(a) or (keep is not None and np.may_share_memory(a, keep)):
            return
        address = _address(a)
        buf = self._used.pop(address)
        if self._record is not None:
            self._record[self._index.pop(address)][1] = self._event
        self._event += 1
        if not self._in_slab(buf):
            self._free.append(buf)
            self._free.sort(key=lambda b: b.nbytes)

    def release_all(self):
        for address in list(self._used):
            self.release(self._used[address])

    @property
    def nbytes(self):
        pool = sum(b.nbytes for b in self._free) + sum(
            b.nbytes for b in self._used.values() if not self._in_slab(b))
        return pool + (0 if self._slab is None else self._slab.nbytes)

    def _in_slab(self, buf):
        return self._slab is not None and np.may_share_memory(buf, self._slab)

    def _from_plan(self, nbytes):
        """The next planned buffer, or None (and the plan dropped) if the call
        left its plan."""
        plan, i = self._plan, self._taken
        self._taken += 1
        if i < len(plan) and plan[i][1] == _rounded(nbytes):
            offset = plan[i][0]
            return self._slab[offset:offset + plan[i][1]]
        self._plans.pop(self._key, None)
        self._plan = None
        return None

    def _from_pool(self, nbytes):
        for i, buf in enumerate(self._free):
            if buf.nbytes >= nbytes:
                del self._free[i]
                return buf
        return _args.empty_aligned((max(nbytes, _ALIGN),), np.uint8)
