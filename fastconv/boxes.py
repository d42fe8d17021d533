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
        raise ValueError(f"format must be 'xyxy' or 'center', got {format!r}")
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


def non_max_suppression(boxes, scores, iou_threshold=0.5, score_threshold=0.0, classes=None):
    """Greedy NMS (compiled): highest score first; a box is dropped when its IoU
    with a kept box exceeds iou_threshold.  Boxes scoring below score_threshold
    are dropped first.  With `classes`, only boxes of the same class suppress
    each other.  Returns the kept indices in descending score order (ties: the
    lower index first)."""
    func = "non_max_suppression"
    boxes = as_boxes(boxes, "boxes", func)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(scores) != len(boxes):
        raise ValueError(f"{func}: {len(boxes)} boxes but {len(scores)} scores")
    iou_threshold = _args.check_real(iou_threshold, "iou_threshold", func)
    score_threshold = _args.check_real(score_threshold, "score_threshold", func)
    if classes is not None:
        classes = np.asarray(classes).reshape(-1)
        if len(classes) != len(boxes):
            raise ValueError(f"{func}: {len(boxes)} boxes but {len(classes)} classes")
    candidates = np.flatnonzero(scores >= score_threshold)
    order = candidates[np.argsort(-scores[candidates], kind="stable")]
    if len(order) == 0:
        return order.astype(np.int64)
    sorted_classes = None if classes is None else \
        np.ascontiguousarray(classes[order], dtype=np.int64)
    keep = np.empty(len(order), np.int64)
    kept = _native.nms_sorted(np.ascontiguousarray(boxes[order]), sorted_classes,
                              iou_threshold, keep)
    return order[keep[:kept]]
