"""fastconv.detect against plain reference implementations."""
import numpy as np
import pytest

from fastconv import data, detect, nn
from fastconv import reference as ref
from helpers import numeric_grad, run_python


def random_boxes(rng, n, clustered=False):
    if clustered:
        centres = rng.uniform(0, 100, (max(n // 20, 1), 2))[rng.integers(0, max(n // 20, 1), n)]
        xy = centres + rng.normal(0, 3, (n, 2))
    else:
        xy = rng.uniform(0, 100, (n, 2))
    wh = rng.uniform(0, 20, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


def test_iou_matches_reference(rng):
    a, b = random_boxes(rng, 30), random_boxes(rng, 20)
    a[3, 2] = a[3, 0]                       # zero width
    b[5] = [500, 500, 510, 510]             # disjoint from everything
    np.testing.assert_allclose(detect.iou(a, b), ref.iou(a, b), atol=1e-12)
    centre = detect.to_center(a)
    np.testing.assert_allclose(detect.iou(centre, centre, format="center"),
                               ref.iou(centre, centre, format="center"), atol=1e-12)
    assert detect.iou(a[3:4], a[3:4])[0, 0] == 0.0


def test_iou_of_the_course_example():
    # boxes (x1, y1, x2, y2): (2, 1, 4, 3) and (1, 2, 3, 4) overlap in one unit square
    assert detect.iou([[2, 1, 4, 3]], [[1, 2, 3, 4]])[0, 0] == pytest.approx(1 / 7)


@pytest.mark.parametrize("clustered", [False, True], ids=["spread", "clustered"])
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7], ids="iou{}".format)
def test_nms_matches_reference(clustered, threshold, rng):
    boxes = random_boxes(rng, 300, clustered)
    scores = rng.random(300)
    np.testing.assert_array_equal(detect.non_max_suppression(boxes, scores, threshold),
                                  ref.non_max_suppression(boxes, scores, threshold))
    classes = rng.integers(0, 3, 300)
    np.testing.assert_array_equal(
        detect.non_max_suppression(boxes, scores, threshold, 0.2, classes),
        ref.non_max_suppression(boxes, scores, threshold, 0.2, classes))


def greedy_nms(boxes, scores, threshold, classes=None):
    """The greedy definition vectorised over the remaining boxes (Fast R-CNN's
    py_cpu_nms), with the kernel's test inter > t * union."""
    order = np.argsort(-scores, kind="stable")
    order = order[scores[order] >= 0]
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    area = np.where((w > 0) & (h > 0), w * h, 0)
    keep = []
    while len(order):
        i, rest = order[0], order[1:]
        keep.append(i)
        iw = np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0])
        ih = np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1])
        inter = np.where(iw > 0, iw, 0) * np.where(ih > 0, ih, 0)
        kill = inter > threshold * (area[i] + area[rest] - inter)
        if classes is not None:
            kill &= classes[rest] == classes[i]
        order = rest[~kill]
    return np.array(keep, dtype=np.int64)


def box_set(rng, kind, n):
    """Boxes that exercise the NMS grid: sizes over four orders of magnitude,
    empty boxes, tied scores, coordinates far from the origin."""
    if kind == "sizes":
        xy = rng.uniform(-500, 500, (n, 2))
        wh = np.exp(rng.uniform(-2, 7, (n, 2)))
    elif kind == "grid-aligned":          # corners on cell-like boundaries, many equal boxes
        xy = rng.integers(0, 40, (n, 2)) * 8.0
        wh = rng.integers(0, 5, (n, 2)) * 8.0
    elif kind in ("far", "very-far"):         # very far: the grid's rounding bound fails
        xy = (1e7 if kind == "far" else 1e13) + rng.uniform(0, 2000, (n, 2))
        wh = rng.uniform(1, 60, (n, 2))
    else:                                 # detector-like clusters
        centres = rng.uniform(0, 1000, (n // 40, 2))[rng.integers(0, n // 40, n)]
        xy = centres + rng.normal(0, 6, (n, 2))
        wh = rng.uniform(20, 120, (n, 2)) + rng.normal(0, 4, (n, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1)
    boxes[rng.random(n) < 0.03, 2] -= 1e4          # a few empty boxes
    return boxes


@pytest.mark.parametrize("kind", ["sizes", "grid-aligned", "far", "very-far", "clusters"])
@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.7, 1.0], ids="iou{}".format)
def test_nms_equals_the_greedy_definition(kind, threshold, rng):
    boxes = box_set(rng, kind, 3000)
    scores = rng.integers(0, 50, 3000) / 50.0        # many ties
    np.testing.assert_array_equal(detect.non_max_suppression(boxes, scores, threshold),
                                  greedy_nms(boxes, scores, threshold))
    classes = rng.integers(0, 4, 3000)
    np.testing.assert_array_equal(
        detect.non_max_suppression(boxes, scores, threshold, classes=classes),
        greedy_nms(boxes, scores, threshold, classes))


def test_nms_odd_inputs_follow_the_definition(rng):
    boxes = box_set(rng, "clusters", 400)
    scores = rng.random(400)
    scores[:5] = [0.0, -0.0, np.nan, 0.5, 0.5]        # -0 ties 0; NaN never passes
    np.testing.assert_array_equal(detect.non_max_suppression(boxes, scores, 0.5, -1.0),
                                  ref.non_max_suppression(boxes, scores, 0.5, -1.0))
    for bad in (-0.1, np.nan):
        with pytest.raises(ValueError, match="iou_threshold must be >= 0"):
            detect.non_max_suppression(boxes, scores, bad)
    big_labels = rng.integers(0, 2, 400) * 2**60 + 3          # beyond a double's integers
    np.testing.assert_array_equal(
        detect.non_max_suppression(boxes, scores, 0.4, classes=big_labels),
        greedy_nms(boxes, np.nan_to_num(scores, nan=-1), 0.4, big_labels))
    names = np.array(["cat", "dog"])[rng.integers(0, 2, 400)]
    np.testing.assert_array_equal(
        detect.non_max_suppression(boxes, scores, 0.4, classes=names),
        detect.non_max_suppression(boxes, scores, 0.4, classes=names == "cat"))


def test_nms_max_output_and_batches(rng):
    boxes = box_set(rng, "clusters", 2000)
    scores = rng.random(2000)
    full = detect.non_max_suppression(boxes, scores, 0.5)
    np.testing.assert_array_equal(detect.non_max_suppression(boxes, scores, 0.5, max_output=7),
                                  full[:7])
    assert len(detect.non_max_suppression(boxes, scores, 0.5, max_output=0)) == 0
    with pytest.raises(ValueError, match="max_output must be >= 0"):
        detect.non_max_suppression(boxes, scores, 0.5, max_output=-1)
    image = rng.integers(0, 3, 2000)
    classes = rng.integers(0, 2, 2000)
    got = detect.batched_non_max_suppression(boxes, scores, image, 0.5, 0.1, classes)
    want = []
    for k in range(3):
        members = np.flatnonzero(image == k)
        kept = greedy_nms(boxes[members], np.where(scores[members] >= 0.1, scores[members], -1),
                          0.5, classes[members])
        want.extend(members[kept])
    np.testing.assert_array_equal(got, sorted(want, key=lambda i: (-scores[i], i)))
    small = slice(0, 150)
    np.testing.assert_array_equal(
        detect.batched_non_max_suppression(boxes[small], scores[small], image[small]),
        ref.batched_non_max_suppression(boxes[small], scores[small], image[small]))


def test_nms_ties_and_thresholds():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 5], [20, 20, 30, 30]], float)
    scores = np.array([0.9, 0.9, 0.8, 0.1])
    # equal scores: the lower index wins; box 2 has IoU exactly 0.5 with box 0: kept at 0.5
    np.testing.assert_array_equal(detect.non_max_suppression(boxes, scores, 0.5), [0, 2, 3])
    np.testing.assert_array_equal(detect.non_max_suppression(boxes, scores, 0.49), [0, 3])
    np.testing.assert_array_equal(detect.non_max_suppression(boxes, scores, 0.5, 0.5), [0, 2])
    np.testing.assert_array_equal(
        detect.non_max_suppression(boxes, scores, 0.3, classes=[0, 1, 0, 0]), [0, 1, 3])
    assert detect.non_max_suppression(np.zeros((0, 4)), []).shape == (0,)


def test_nms_errors():
    with pytest.raises(ValueError, match=r"non_max_suppression: boxes must have shape \(n, 4\)"):
        detect.non_max_suppression(np.zeros((3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="3 boxes but 2 scores"):
        detect.non_max_suppression(np.zeros((3, 4)), np.zeros(2))


def test_encode_decode_round_trip(rng):
    anchors = detect.DEFAULT_ANCHORS
    boxes = np.array([[0.2, 0.3, 0.18, 0.2], [0.7, 0.75, 0.4, 0.3], [0.9, 0.1, 0.1, 0.12]])
    labels = np.array([2, 0, 1])
    target = detect.yolo_encode(boxes, labels, 8, anchors, 3)
    assert target.shape == (8, 8, 2, 8) and target[..., 0].sum() == 3
    # the first object sits in row 2 (0.3 * 8), column 1 (0.2 * 8), small anchor
    np.testing.assert_allclose(target[2, 1, 0], [1, 0.6, 0.4, 0.18, 0.2, 0, 0, 1])
    out, scores, out_labels = detect.yolo_decode(target, anchors, 0.5)
    order = np.lexsort((out[:, 0], out[:, 1]))
    expected = np.lexsort((boxes[:, 0], boxes[:, 1]))
    np.testing.assert_allclose(out[order], boxes[expected], atol=1e-12)
    np.testing.assert_array_equal(out_labels[order], labels[expected])
    np.testing.assert_array_equal(scores, 1.0)


def test_localization_loss_matches_the_course(rng):
    target = np.array([[1, 0.5, 0.5, 0.2, 0.3, 0, 1, 0], [0, 0, 0, 0, 0, 0, 0, 0]], float)
    pred = rng.random((2, 8))
    loss, grad = detect.localization_loss(pred, target)
    expected = (np.sum((pred[0] - target[0]) ** 2) + (pred[1, 0] - 0) ** 2) / 2
    assert loss == pytest.approx(expected)
    num = numeric_grad(lambda: detect.localization_loss(pred, target)[0], pred)
    np.testing.assert_allclose(grad, num, atol=1e-8)


def test_yolo_loss_gradient(rng):
    loss = detect.YoloLoss(2, 3)
    target = np.stack([detect.yolo_encode([[0.3, 0.4, 0.2, 0.2]], [1], 4, detect.DEFAULT_ANCHORS, 3)
                       for _ in range(2)])
    pred = rng.standard_normal((2, 4, 4, 16))
    loss.forward(pred, target)
    grad = loss.backward().reshape(-1)
    # 25 random entries and the p_c logit of the object's cell and anchor
    idx = np.append(rng.integers(0, pred.size, 25), np.ravel_multi_index((0, 1, 1, 0), pred.shape))
    num = numeric_grad(lambda: loss.forward(pred, target), pred, idx)
    np.testing.assert_allclose(grad[idx], num, atol=1e-7)


def test_sliding_windows_equal_cropped_classification(rng):
    nn.seed(4)
    classifier = nn.Sequential(nn.Conv2D(3, 4, 3, activation="relu"), nn.MaxPool2D(2),
                               nn.Conv2D(4, 6, 3, activation="relu"), nn.Flatten(),
                               nn.Dense(6 * 3 * 3, 5, activation="relu"), nn.Dense(5, 2))
    image = rng.standard_normal((20, 22, 3)).astype(np.float32)
    window, stride = 12, 2
    out = detect.sliding_window_predictions(classifier, image, window, stride)
    rows, cols = (20 - window) // stride + 1, (22 - window) // stride + 1
    assert out.shape == (rows, cols, 2)
    for i in range(rows):
        for j in range(cols):
            crop = image[None, i * stride:i * stride + window, j * stride:j * stride + window]
            np.testing.assert_allclose(out[i, j], classifier.forward(crop)[0], atol=1e-5)
    with pytest.raises(ValueError, match="stride must be 2"):
        detect.sliding_window_predictions(classifier, image, window, 3)


def test_mean_average_precision():
    gt = [(np.array([[0, 0, 10, 10], [20, 20, 30, 30.0]]), np.array([0, 1]))]
    perfect = [(gt[0][0], np.array([0.9, 0.8]), gt[0][1])]
    assert detect.mean_average_precision(perfect, gt, 2) == pytest.approx(1.0)
    nothing = [(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int))]
    assert detect.mean_average_precision(nothing, gt, 2) == 0.0
    shifted = [(np.array([[5, 5, 15, 15], [20, 20, 30, 30.0]]), np.array([0.9, 0.8]),
                np.array([0, 1]))]
    assert detect.mean_average_precision(shifted, gt, 2) == pytest.approx(0.5)


def test_scenes_and_a_short_detector_run():
    x, boxes, labels = data.scenes(200, seed=0)
    again = data.scenes(200, seed=0)
    np.testing.assert_array_equal(x, again[0])
    assert x.shape == (200, 64, 64, 3) and all(len(b) == len(l) >= 1 for b, l in zip(boxes, labels))
    model = detect.tiny_yolo()
    y = np.stack([detect.yolo_encode(b, l, 8, detect.DEFAULT_ANCHORS, 3)
                  for b, l in zip(boxes, labels)])
    history = model.fit(x, y, epochs=3, batch_size=32, verbose=False)
    assert history["loss"][-1] < 0.7 * history["loss"][0]
    results = detect.detect(model, x[:4])
    assert len(results) == 4 and all(r[0].shape[1:] == (4,) for r in results)


def test_detect_command(tmp_path):
    proc = run_python("-m", "fastconv", "detect", "--epochs", "1", "--train-samples", "100",
                      "--test-samples", "10", "--quiet", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "mAP@0.5" in proc.stdout


def test_detector_save_load_round_trip(tmp_path, rng):
    model = detect.tiny_yolo()
    x = rng.random((2, 64, 64, 3)).astype(np.float32)
    model.save(tmp_path / "detector.npz")
    loaded = nn.Model.load(tmp_path / "detector.npz")
    assert isinstance(loaded.loss, detect.YoloLoss)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
