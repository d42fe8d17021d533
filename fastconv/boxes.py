"""Box operations: format conversions, IoU and non-max suppression.

Box formats: "xyxy" is (x1, y1, x2, y2); "center" is the course's
(b_x, b_y, b_h, b_w): centre x, centre y, height, width.  This module sits
below fastconv.nn, fastconv.detect and fastconv.data, and imports none of them.
"""
import numpy as np

from . import _args, _native


def as_boxes(arr, name, func):
    """arr as a float64 (n, 4) array, or a ValueError naming the argument."""
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{func}: {name} must have shape (n, 4), got {arr.shape}")
    return arr


def to_xyxy(boxes, format="xyxy"):
    """(n, 4) boxes converted from `format` ('xyxy' or 'center') to xyxy."""
    boxes = np.asarray(boxes, dtype=np.float64)
    if format == "xyxy":
        return boxes
    if format != "center":
        raise ValueError(f"format must be 'xyxy' or 'center', got {_args.shown(format)}")
    bx, by, bh, bw = boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]
    return np.stack([bx - bw / 2, by - bh / 2, bx + bw / 2, by + bh / 2], axis=-1)


def to_center(boxes_xyxy):
    """xyxy boxes as the course's (b_x, b_y, b_h, b_w)."""
    b = np.asarray(boxes_xyxy, dtype=np.float64)
    return np.stack([(b[..., 0] + b[..., 2]) / 2, (b[..., 1] + b[..., 3]) / 2,
                     b[..., 3] - b[..., 1], b[..., 2] - b[..., 0]], axis=-1)


def iou(boxes_a, boxes_b, format="xyxy"):
    """The (n, m) matrix of intersection over union (compiled); empty and
    disjoint boxes give 0."""
    a = np.ascontiguousarray(to_xyxy(as_boxes(boxes_a, "boxes_a", "iou"), format))
    b = np.ascontiguousarray(to_xyxy(as_boxes(boxes_b, "boxes_b", "iou"), format))
    out = np.empty((len(a), len(b)))
    if out.size:
        _native.iou(a, b, out)
    return out


def _labels(values, name, n, func):
    """Per-box labels as int64 keys that are equal exactly where the labels are."""
    values = np.asarray(values).reshape(-1)
    if len(values) != n:
        raise ValueError(f"{func}: {n} boxes but {len(values)} {name}")
    if values.dtype.kind in "iub":
        return values.astype(np.int64)
    return np.unique(values, return_inverse=True)[1].reshape(-1).astype(np.int64)


def _nms(func, boxes, scores, iou_threshold, score_threshold, keys, max_output):
    """Kept indices of greedy NMS among boxes of equal keys (None: all one key)."""
    boxes = np.ascontiguousarray(as_boxes(boxes, "boxes", func))
    scores = np.ascontiguousarray(scores, dtype=np.float64).reshape(-1)
    if len(scores) != len(boxes):
        raise ValueError(f"{func}: {len(boxes)} boxes but {len(scores)} scores")
    iou_threshold = _args.check_real(iou_threshold, "iou_threshold", func)
    if not iou_threshold >= 0:
        raise ValueError(f"{func}: iou_threshold must be >= 0, got {iou_threshold}")
    score_threshold = _args.check_real(score_threshold, "score_threshold", func)
    max_keep = -1 if max_output is None else _args.check_int(max_output, "max_output", func, 0)
    keep = np.empty(len(boxes), np.int64)
    if len(boxes) == 0:
        return keep
    kept = _native.nms(boxes, scores, keys, iou_threshold, score_threshold, max_keep, keep)
    return keep[:kept]


def non_max_suppression(boxes, scores, iou_threshold=0.5, score_threshold=0.0, classes=None, *,
                        max_output=None):
    """Greedy NMS (compiled): highest score first; a box is dropped when its IoU
    with a kept box exceeds iou_threshold.  Boxes scoring below score_threshold
    are dropped first.  With `classes`, only boxes of the same class suppress
    each other.  max_output stops after that many boxes are kept.  Returns the
    kept indices in descending score order (ties: the lower index first).
    The scores are sorted once (a radix sort) and the boxes filed in a grid,
    so a kept box only tests the boxes near it; the result is the greedy
    definition's, box for box."""
    func = "non_max_suppression"
    n = len(np.asarray(scores).reshape(-1))
    keys = None if classes is None else _labels(classes, "classes", n, func)
    return _nms(func, boxes, scores, iou_threshold, score_threshold, keys, max_output)


def batched_non_max_suppression(boxes, scores, batch_index, iou_threshold=0.5,
                                score_threshold=0.0, classes=None):
    """NMS of many images' boxes at once: boxes only suppress boxes of the same
    image (batch_index, one per box) and, with `classes`, of the same class.
    Returns the kept indices in descending score order, as
    non_max_suppression: the same boxes as running it image by image."""
    func = "batched_non_max_suppression"
    n = len(np.asarray(scores).reshape(-1))
    image = _labels(batch_index, "batch indices", n, func)
    if classes is not None:
        pairs = np.stack([image, _labels(classes, "classes", n, func)], axis=1)
        image = np.unique(pairs, axis=0, return_inverse=True)[1].reshape(-1).astype(np.int64)
    return _nms(func, boxes, scores, iou_threshold, score_threshold, image, None)
