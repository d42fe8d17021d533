"""Object detection helpers of the course: IoU, non-max suppression, YOLO's
grid encoding with anchor boxes, the localisation and YOLO losses, the
convolutional implementation of sliding windows, mAP, and a tiny YOLO-style
detector.

Box formats: "xyxy" is (x1, y1, x2, y2); "center" is the course's
(b_x, b_y, b_h, b_w): centre x, centre y, height, width.  YOLO helpers work in
coordinates relative to the image (0..1).
"""
import numpy as np

from . import _args, nn
# box operations live in fastconv.boxes (below nn and data); re-exported here
from .boxes import (as_boxes, batched_non_max_suppression, iou,  # noqa: F401
                    non_max_suppression, to_center, to_xyxy)


# ---- YOLO grid encoding -------------------------------------------------------------
def _shape_iou(hw, anchors):
    """IoU of boxes of sizes hw (n, 2) with anchors (A, 2), both centred."""
    inter = np.minimum(hw[:, None, 0], anchors[None, :, 0]) * \
        np.minimum(hw[:, None, 1], anchors[None, :, 1])
    union = hw[:, None, 0] * hw[:, None, 1] + anchors[None, :, 0] * anchors[None, :, 1] - inter
    return inter / np.maximum(union, 1e-12)


def yolo_encode(boxes, labels, grid, anchors, num_classes):
    """The (S, S, A, 5 + C) target of one image: boxes (n, 4) in the course's
    centre format relative to the image (b_x, b_y, b_h, b_w in 0..1), integer
    labels (n,).  Each object goes to the cell holding its midpoint and to the
    anchor (A, 2) of (height, width) with the highest shape IoU; its entry is
    [p_c = 1, b_x, b_y relative to the cell (0..1), b_h, b_w relative to the
    image, one-hot classes].  When two objects claim the same cell and anchor,
    the first one keeps it."""
    boxes = as_boxes(boxes, "boxes", "yolo_encode").reshape(-1, 4)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    anchors = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
    if len(labels) != len(boxes):
        raise ValueError(f"yolo_encode: {len(boxes)} boxes but {len(labels)} labels")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"yolo_encode: labels must be in [0, {num_classes}), got {labels}")
    s = int(grid)
    target = np.zeros((s, s, len(anchors), 5 + num_classes))
    best = _shape_iou(boxes[:, 2:4], anchors).argmax(axis=1) if len(boxes) else []
    for (bx, by, bh, bw), label, a in zip(boxes, labels, best):
        col, row = min(int(bx * s), s - 1), min(int(by * s), s - 1)
        cell = target[row, col, a]
        if cell[0]:
            continue
        cell[:5] = (1.0, bx * s - col, by * s - row, bh, bw)
        cell[5 + label] = 1.0
    return target


def yolo_decode(pred, anchors, score_threshold=0.5):
    """Boxes (k, 4) in centre format relative to the image, scores (k,) and
    labels (k,) of the (S, S, A, 5 + C) grid `pred` (probabilities, as produced
    by yolo_encode or the sigmoid of the detector's logits) whose score
    p_c * max class probability reaches score_threshold."""
    pred = np.asarray(pred, dtype=np.float64)
    s = pred.shape[0]
    if pred.ndim == 3:
        pred = pred.reshape(s, s, len(np.reshape(anchors, (-1, 2))), -1)
    rows, cols, _ = np.indices(pred.shape[:3])
    class_prob = pred[..., 5:]
    scores = pred[..., 0] * class_prob.max(axis=-1)
    mask = scores >= score_threshold
    boxes = np.stack([(cols[mask] + pred[..., 1][mask]) / s, (rows[mask] + pred[..., 2][mask]) / s,
                      pred[..., 3][mask], pred[..., 4][mask]], axis=-1)
    return boxes.reshape(-1, 4), scores[mask], class_prob.argmax(axis=-1)[mask]


# ---- losses ---------------------------------------------------------------------------
def localization_loss(pred, target):
    """The course's loss for the label vector y = [p_c, b_x, b_y, b_h, b_w, c_1..c_C]:
    the squared error of every component when p_c = 1, of p_c alone when
    p_c = 0; averaged over the batch.  Returns (loss, d loss / d pred)."""
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape:
        raise ValueError(f"localization_loss: pred {pred.shape} and target {target.shape} differ")
    weight = np.ones_like(target)
    weight[..., 1:] = target[..., :1]            # only p_c counts when there is no object
    diff = (pred - target) * weight
    n = max(int(np.prod(pred.shape[:-1])), 1)
    return float(np.sum(diff ** 2) / n), 2 * diff / n


@nn.register_loss
class YoloLoss(nn.Loss):
    """The YOLO loss over the grid, averaged over the batch.  pred holds the
    network's logits (N, S, S, A * (5 + C)); their sigmoid gives p_c, b_x, b_y,
    b_h, b_w and the class probabilities, as in yolo_encode's target
    (N, S, S, A, 5 + C).  On cells and anchors holding an object:
    lambda_coord * the squared box error, the cross-entropy of p_c against 1 and
    of each class; elsewhere lambda_noobj * the cross-entropy of p_c against 0.
    (Cross-entropy on the logits keeps the gradient alive where a squared error
    on a saturated sigmoid would vanish.)"""

    def __init__(self, num_anchors, num_classes, lambda_coord=5.0, lambda_noobj=0.5):
        self.num_anchors, self.num_classes = int(num_anchors), int(num_classes)
        self.lambda_coord, self.lambda_noobj = float(lambda_coord), float(lambda_noobj)

    def forward(self, pred, target):
        z = np.asarray(pred, dtype=np.float64)
        z = z.reshape(z.shape[:3] + (self.num_anchors, 5 + self.num_classes))
        t = np.asarray(target, dtype=np.float64).reshape(z.shape)
        p = 1.0 / (1.0 + np.exp(-z))
        obj = t[..., :1]
        n = max(len(z), 1)
        # cross-entropy terms (p_c and classes), weighted per slot
        w_ce = np.concatenate([obj + self.lambda_noobj * (1 - obj),
                               np.broadcast_to(obj, t[..., 5:].shape)], axis=-1)
        z_ce, t_ce, p_ce = (np.concatenate([a[..., :1], a[..., 5:]], axis=-1) for a in (z, t, p))
        ce = np.maximum(z_ce, 0) - z_ce * t_ce + np.log1p(np.exp(-np.abs(z_ce)))
        # squared box error on the sigmoid outputs
        box_err = p[..., 1:5] - t[..., 1:5]
        w_box = self.lambda_coord * obj
        loss = np.sum(w_ce * ce) + np.sum(w_box * box_err ** 2)
        grad = np.empty_like(z)
        g_ce = w_ce * (p_ce - t_ce)
        grad[..., :1], grad[..., 5:] = g_ce[..., :1], g_ce[..., 1:]
        grad[..., 1:5] = 2 * w_box * box_err * p[..., 1:5] * (1 - p[..., 1:5])
        self._grad = (grad / n).reshape(np.shape(pred)).astype(np.asarray(pred).dtype)
        return float(loss / n)

    def backward(self):
        return self._grad

    def _config(self):
        return {"num_anchors": self.num_anchors, "num_classes": self.num_classes,
                "lambda_coord": self.lambda_coord, "lambda_noobj": self.lambda_noobj}


# ---- sliding windows ----------------------------------------------------------------------
def convolutionalize(network, input_shape):
    """An equivalent fully convolutional network: each Dense layer becomes a
    convolution (the first over the whole feature map it flattens, the others
    1x1), so the classifier runs over a larger image in one pass.  The layers
    before Flatten must not pad (a padded crop differs from a window)."""
    if not isinstance(network, nn.Sequential):
        raise TypeError("convolutionalize: the network must be an nn.Sequential")
    layers, shape, flat = [], tuple(input_shape), None
    for layer in network.layers:
        if isinstance(layer, nn.Flatten):
            flat = shape
            continue
        if isinstance(layer, nn.Dense):
            h, w, c = flat if flat is not None else (1, 1, layer.in_features)
            conv = nn.Conv2D(c, layer.out_features, (h, w), bias=layer.bias,
                             activation=layer.activation)
            conv.params["W"] = layer.params["W"].reshape(h, w, c, layer.out_features).copy()
            if layer.bias:
                conv.params["b"] = layer.params["b"].copy()
            layers.append(conv)
            flat = None
        else:
            padding = getattr(layer, "padding", 0)
            if padding not in (0, "valid") and np.any(np.asarray(padding) != 0):
                raise ValueError(f"convolutionalize: {type(layer).__name__} pads its input "
                                 f"(padding={padding!r}); sliding windows need 'valid' layers")
            layers.append(layer)
        shape = layer.output_shape(shape)
    return nn.Sequential(*layers)


def _total_stride(network):
    stride = 1
    for layer in network.layers:
        stride *= getattr(layer, "stride", (1, 1))[0]
    return stride


def sliding_window_predictions(model, image, window, stride):
    """The classifier `model` (nn.Model or Sequential, trained on window x window
    crops) applied to every window of `image` (H, W, C) moved by `stride`, in
    one convolutional pass: returns (rows, cols, outputs).  stride must equal
    the classifier's total stride."""
    network = model.network if isinstance(model, nn.Model) else model
    image = np.asarray(image, dtype=np.float32)
    window = _args.check_int(window, "window", "sliding_window_predictions", 1)
    conv_net = convolutionalize(network, (window, window, image.shape[-1]))
    native = _total_stride(conv_net)
    if stride != native:
        raise ValueError(f"sliding_window_predictions: the classifier's layers move by {native} "
                         f"pixels, so stride must be {native}, got {stride}")
    return conv_net.forward(image[None], training=False)[0]


# ---- evaluation ------------------------------------------------------------------------------
def average_precision(recall, precision):
    """Area under the interpolated precision-recall curve (VOC, all points)."""
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    steps = np.flatnonzero(r[1:] != r[:-1])
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


def mean_average_precision(detections, ground_truth, num_classes, iou_threshold=0.5):
    """mAP over images.  detections: per image (boxes_xyxy, scores, labels);
    ground_truth: per image (boxes_xyxy, labels).  A detection is a true
    positive when it overlaps an unmatched ground-truth box of its class by
    IoU >= iou_threshold (highest scores matched first)."""
    aps = []
    for c in range(num_classes):
        records, total = [], 0
        for (boxes, scores, labels), (gt_boxes, gt_labels) in zip(detections, ground_truth):
            gt = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)[np.asarray(gt_labels) == c]
            total += len(gt)
            mask = np.asarray(labels) == c
            det, sc = np.asarray(boxes).reshape(-1, 4)[mask], np.asarray(scores)[mask]
            matched = np.zeros(len(gt), bool)
            overlaps = iou(det, gt) if len(det) and len(gt) else np.zeros((len(det), len(gt)))
            for k in np.argsort(-sc, kind="stable"):
                hit = False
                if len(gt):
                    j = int(np.argmax(np.where(matched, -1, overlaps[k])))
                    if not matched[j] and overlaps[k, j] >= iou_threshold:
                        matched[j] = hit = True
                records.append((sc[k], hit))
        if total == 0:
            continue
        records.sort(key=lambda r: -r[0])
        hits = np.array([h for _, h in records], dtype=float)
        tp, fp = np.cumsum(hits), np.cumsum(1 - hits)
        recall = tp / total
        precision = tp / np.maximum(tp + fp, 1e-12)
        aps.append(average_precision(recall, precision) if len(records) else 0.0)
    return float(np.mean(aps)) if aps else 0.0


# ---- the tiny detector ------------------------------------------------------------------------
DEFAULT_ANCHORS = ((0.2, 0.2), (0.35, 0.35))


def tiny_yolo(num_classes=3, anchors=DEFAULT_ANCHORS, in_channels=3, input_size=64, seed=0):
    """A small YOLO-style detector: 3x3 convolutions with three 2x2 pools (so a
    grid of S = input_size / 8 cells) and a 1x1 head giving logits
    (N, S, S, A * (5 + C)), trained with YoloLoss and Adam."""
    nn.seed(seed)
    a = len(anchors)
    net = nn.Sequential(
        nn.Conv2D(in_channels, 16, 3, padding=1, activation="relu"), nn.MaxPool2D(2),
        nn.Conv2D(16, 32, 3, padding=1, activation="relu"), nn.MaxPool2D(2),
        nn.Conv2D(32, 64, 3, padding=1, activation="relu"), nn.MaxPool2D(2),
        nn.Conv2D(64, 64, 3, padding=1, activation="relu"),
        nn.Conv2D(64, a * (5 + num_classes), 1))
    return nn.Model(net, YoloLoss(a, num_classes), nn.Adam(learning_rate=2e-3),
                    (input_size, input_size, in_channels))


def detect(model, images, anchors=DEFAULT_ANCHORS, score_threshold=0.3, iou_threshold=0.45):
    """Per image: (boxes_xyxy relative to the image, scores, labels) after
    decoding the grid and class-wise NMS."""
    logits = model.predict(np.asarray(images, dtype=np.float32)).astype(np.float64)
    results = []
    for grid in 1.0 / (1.0 + np.exp(-logits)):
        boxes, scores, labels = yolo_decode(grid, anchors, score_threshold)
        xyxy = to_xyxy(boxes, "center")
        keep = non_max_suppression(xyxy, scores, iou_threshold, classes=labels)
        results.append((xyxy[keep], scores[keep], labels[keep]))
    return results


# ---- landmark detection ------------------------------------------------------------------------
def landmark_target(points, present):
    """The course's label vector per image: [p_c, l1x, l1y, ..., lKx, lKy]
    (N, 1 + 2K) from key points (N, K, 2) relative to the image and presence
    flags (N,)."""
    points = np.asarray(points, dtype=np.float64)
    present = np.asarray(present, dtype=np.float64).reshape(-1)
    if points.ndim != 3 or points.shape[2] != 2 or len(points) != len(present):
        raise ValueError(f"landmark_target: points must be (N, K, 2) and present (N,), got "
                         f"{points.shape} and {present.shape}")
    return np.concatenate([present[:, None], points.reshape(len(points), -1)],
                          axis=1).astype(np.float32)


@nn.register_loss
class LandmarkLoss(nn.Loss):
    """Landmark detection's loss on outputs (N, 1 + 2K): the first is the logit
    of p_c (cross-entropy against the presence flag), the others the key
    points' coordinates relative to the image, whose squared error (times
    lambda_coord) counts only where a face is present.  Averaged over the
    batch; accuracy is that of the presence flag."""

    def __init__(self, lambda_coord=5.0):
        self.lambda_coord = float(lambda_coord)

    def forward(self, pred, target):
        z = np.asarray(pred, dtype=np.float64)
        t = np.asarray(target, dtype=np.float64)
        if z.shape != t.shape or z.ndim != 2 or z.shape[1] < 3 or z.shape[1] % 2 == 0:
            raise ValueError(f"LandmarkLoss: pred and target must both be (N, 1 + 2K), got "
                             f"{z.shape} and {t.shape}")
        n = max(len(z), 1)
        pc, logit = t[:, :1], z[:, :1]
        ce = np.maximum(logit, 0) - logit * pc + np.log1p(np.exp(-np.abs(logit)))
        err = (z[:, 1:] - t[:, 1:]) * pc
        grad = np.empty_like(z)
        grad[:, :1] = (1.0 / (1.0 + np.exp(-logit)) - pc) / n
        grad[:, 1:] = 2 * self.lambda_coord * err / n
        self._grad = grad.astype(np.asarray(pred).dtype)
        return float((np.sum(ce) + self.lambda_coord * np.sum(err ** 2)) / n)

    def backward(self):
        return self._grad

    def accuracy(self, pred, target):
        z, t = np.asarray(pred), np.asarray(target)
        return float(np.mean((z[:, 0] > 0) == (t[:, 0] > 0.5)))

    def _config(self):
        return {"lambda_coord": self.lambda_coord}


def landmark_model(num_points=5, input_size=32, in_channels=1, seed=0):
    """The course's landmark network: three 3x3 convolution + 2x2 pooling
    stages and two dense layers giving (N, 1 + 2 num_points) outputs (the
    logit of p_c, then x, y of each key point relative to the image), trained
    with LandmarkLoss and Adam."""
    nn.seed(seed)
    cells = input_size // 8
    net = nn.Sequential(
        nn.Conv2D(in_channels, 16, 3, padding=1, activation="relu"), nn.MaxPool2D(2),
        nn.Conv2D(16, 32, 3, padding=1, activation="relu"), nn.MaxPool2D(2),
        nn.Conv2D(32, 64, 3, padding=1, activation="relu"), nn.MaxPool2D(2),
        nn.Flatten(), nn.Dense(cells * cells * 64, 128, activation="relu"),
        nn.Dense(128, 1 + 2 * num_points))
    return nn.Model(net, LandmarkLoss(), nn.Adam(learning_rate=1e-3),
                    (input_size, input_size, in_channels))


def predict_landmarks(model, images):
    """(p_c (N,), key points (N, K, 2) relative to the image) for images."""
    out = model.predict(np.asarray(images, dtype=np.float32)).astype(np.float64)
    return 1.0 / (1.0 + np.exp(-out[:, 0])), out[:, 1:].reshape(len(out), -1, 2)


def normalised_point_error(pred_points, true_points, present=None):
    """Mean over the images with a face of the mean distance between predicted
    and true key points divided by the true inter-ocular distance (points 0
    and 1, the eyes, as in data.faces)."""
    pred = np.asarray(pred_points, dtype=np.float64)
    true = np.asarray(true_points, dtype=np.float64)
    if pred.shape != true.shape or pred.ndim != 3 or pred.shape[1] < 2:
        raise ValueError(f"normalised_point_error: pred_points {pred.shape} and true_points "
                         f"{true.shape} must be equal (N, K >= 2, 2) shapes")
    mask = np.ones(len(true), bool) if present is None else np.asarray(present).reshape(-1) > 0.5
    if not mask.any():
        raise ValueError("normalised_point_error: no image holds a face")
    ocular = np.linalg.norm(true[mask, 0] - true[mask, 1], axis=-1)
    dist = np.linalg.norm(pred[mask] - true[mask], axis=-1).mean(axis=1)
    return float(np.mean(dist / ocular))
