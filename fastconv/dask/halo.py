"""Where a sliding window's blocks start and what each borrows from the next.

One spatial axis at a time.  Output element i of a window of extent E (the
dilated kernel, or the pooling window) at stride s reads the padded input
elements [i s, i s + E), that is the input elements [i s - p, i s - p + E)
where p is the padding before the axis.  Output i belongs to the block that
holds input element i s - p (the first block also takes the outputs whose
windows start in the padding).  When every block boundary b has b + p a
multiple of s, a block starts exactly where its first window does, so it needs
nothing from the block before it and E - s elements from the block after it
(the halo, exchanged by dask's map_overlap).  The padding is applied once, at
the image borders: the first block pads before, and a block whose last window
runs past the end of the axis pads after.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class AxisPlan:
    in_chunks: tuple      # input elements per block, boundaries aligned to the stride
    depth: int            # elements each block borrows from the next (map_overlap's depth)
    out_chunks: tuple     # output elements per block
    pads: tuple           # (before, after) padding of each block


def plan_axis(size, chunks, extent, stride, pad_before, out, align=1):
    """The blocks of one axis of `size` input elements, near the given chunk
    sizes: boundaries moved down to the stride grid (and to a multiple of
    `align` output elements, e.g. Winograd's 4-row tiles), dropped where a
    block would be smaller than the halo or would hold no window start.
    `out` is the number of output elements (from the padded size)."""
    step = stride * align                       # boundaries sit where output i % align == 0
    depth = max(extent - stride, 0)
    last_start = (out - 1) * stride - pad_before    # input index of the last window's start
    bounds = []
    edge = 0
    for c in chunks[:-1]:
        edge += c
        b = (edge + pad_before) // step * step - pad_before
        if b <= 0 or b > last_start or b - (bounds[-1] if bounds else 0) < max(depth, 1):
            continue
        bounds.append(b)
    while bounds and size - bounds[-1] < depth:     # the last block must hold a halo too
        bounds.pop()
    starts = [0] + bounds
    ends = bounds + [size]
    first_out = [0] + [(b + pad_before) // stride for b in bounds]
    last_out = first_out[1:] + [out]
    pads = []
    for k, (i0, i1) in enumerate(zip(first_out, last_out)):
        before = pad_before if k == 0 else 0
        needed_end = (i1 - 1) * stride - pad_before + extent     # one past the last input read
        pads.append((before, max(0, needed_end - size)))
    return AxisPlan(in_chunks=tuple(e - s for s, e in zip(starts, ends)),
                    depth=depth if len(starts) > 1 else 0,
                    out_chunks=tuple(i1 - i0 for i0, i1 in zip(first_out, last_out)),
                    pads=tuple(pads))
