"""NMS on 10 000 boxes and the IoU matrix: fastconv.detect against the plain
NumPy versions (a vectorised NumPy greedy NMS, and broadcasting IoU)."""
import numpy as np
import pytest

from fastconv import detect
from conftest import run


def numpy_nms(boxes, scores, iou_threshold):
    """Greedy NMS, vectorised over the remaining boxes with NumPy."""
    order = np.argsort(-scores, kind="stable")
    keep = []
    while len(order):
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.clip(np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]), 0, None)
        h = np.clip(np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]), 0, None)
        inter = w * h
        area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
        order = rest[inter <= iou_threshold * (area(boxes[i]) + area(boxes[rest]) - inter)]
    return np.array(keep)


def detector_like_boxes(n, rng):
    """n boxes jittered around n / 50 objects, as a detector's raw output."""
    objects = rng.uniform(0, 1000, (n // 50, 4))
    objects[:, 2:] = objects[:, :2] + rng.uniform(20, 120, (n // 50, 2))
    boxes = objects[rng.integers(0, len(objects), n)] + rng.normal(0, 4, (n, 4))
    return boxes, rng.random(n)


@pytest.mark.parametrize("impl", ["fastconv", "numpy"])
def test_nms_10000(benchmark, impl):
    benchmark.group = "nms 10000 boxes 1t"
    boxes, scores = detector_like_boxes(10_000, np.random.default_rng(0))
    fn = detect.non_max_suppression if impl == "fastconv" else numpy_nms
    run(benchmark, impl, lambda: fn(boxes, scores, 0.5))


@pytest.mark.parametrize("impl", ["fastconv", "numpy"])
def test_nms_10000_uniform(benchmark, impl):
    benchmark.group = "nms 10000 uniform boxes 1t"
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 1000, (10_000, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 50, (10_000, 2))], axis=1)
    scores = rng.random(10_000)
    fn = detect.non_max_suppression if impl == "fastconv" else numpy_nms
    run(benchmark, impl, lambda: fn(boxes, scores, 0.5), slow=impl == "numpy")


@pytest.mark.parametrize("impl", ["fastconv", "numpy"])
def test_iou_1000x1000(benchmark, impl):
    benchmark.group = "iou 1000x1000 1t"
    rng = np.random.default_rng(2)
    a, _ = detector_like_boxes(1000, rng)
    b, _ = detector_like_boxes(1000, rng)

    def numpy_iou():
        w = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
        h = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
        inter = w * h
        area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
        return inter / (area(a)[:, None] + area(b)[None, :] - inter)
    run(benchmark, impl, (lambda: detect.iou(a, b)) if impl == "fastconv" else numpy_iou)
