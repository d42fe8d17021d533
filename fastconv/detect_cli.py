"""`python -m fastconv detect`: train the tiny YOLO-style detector on synthetic
scenes, report mAP@0.5 on held-out scenes and draw the predictions."""
import os
import time

import numpy as np

from . import data, detect


def train_detector(epochs=8, train_samples=3000, test_samples=300, batch_size=32, seed=0,
                   out_dir=".", plot=True, verbose=True):
    """Train, evaluate (mAP@0.5) and optionally plot; returns a dict of results."""
    x, boxes, labels = data.scenes(train_samples, seed=seed)
    xt, bt, lt = data.scenes(test_samples, seed=seed + 1)
    model = detect.tiny_yolo(num_classes=len(data.SCENE_CLASSES), input_size=x.shape[1], seed=seed)
    grid = model.network.output_shape(model.input_shape)[0]
    anchors = detect.DEFAULT_ANCHORS
    y = np.stack([detect.yolo_encode(b, l, grid, anchors, len(data.SCENE_CLASSES))
                  for b, l in zip(boxes, labels)])
    if verbose:
        model.summary()
    start = time.perf_counter()
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=verbose, seed=seed)
    seconds = time.perf_counter() - start
    detections = detect.detect(model, xt, anchors)
    truth = [(detect.to_xyxy(b, "center"), l) for b, l in zip(bt, lt)]
    result = {"model": model, "history": history, "seconds": seconds,
              "mAP": detect.mean_average_precision(detections, truth, len(data.SCENE_CLASSES))}
    if plot:
        result["png"] = _plot(xt[:8], detections[:8], os.path.join(out_dir, "detections.png"))
    return result


def _plot(images, detections, path):
    """Test images with their predicted boxes and labels; None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Rectangle
    except ImportError:
        return None
    fig, axes = plt.subplots(2, 4, figsize=(12, 6.4))
    size = images.shape[1]
    for ax, img, (boxes, scores, labels) in zip(axes.flat, images, detections):
        ax.imshow(img)
        for (x1, y1, x2, y2), score, label in zip(boxes * size, scores, labels):
            ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False,
                                   edgecolor="yellow", linewidth=1.5))
            ax.text(x1, y1 - 1, f"{data.SCENE_CLASSES[label]} {score:.2f}", color="yellow",
                    fontsize=7, backgroundcolor=(0, 0, 0, 0.5))
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("tiny YOLO-style detector on held-out synthetic scenes")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
