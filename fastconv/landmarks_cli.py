"""`python -m fastconv landmarks`: train the landmark network on synthetic
faces, report the normalised point error on held-out images and draw the
predicted against the true key points."""
import os
import time

import numpy as np

from . import data, detect
from .png import write_png

TRUE_COLOUR = (40, 220, 40)        # green crosses: the annotation
PRED_COLOUR = (240, 40, 40)        # red squares: the prediction


def train_landmarks(epochs=20, train_samples=4000, test_samples=500, batch_size=32, seed=0,
                    out_dir=".", plot=True, verbose=True):
    """Train, evaluate and optionally draw; returns a dict of results."""
    x, points, present = data.faces(train_samples, seed=seed)
    xt, pt, ct = data.faces(test_samples, seed=seed + 1)
    model = detect.landmark_model(len(data.FACE_POINTS), input_size=x.shape[1], seed=seed)
    if verbose:
        model.summary()
    start = time.perf_counter()
    history = model.fit(x, detect.landmark_target(points, present), epochs=epochs,
                        batch_size=batch_size, verbose=verbose, seed=seed)
    seconds = time.perf_counter() - start
    pc, predicted = detect.predict_landmarks(model, xt)
    result = {"model": model, "history": history, "seconds": seconds,
              "error": detect.normalised_point_error(predicted, pt, ct),
              "presence_accuracy": float(np.mean((pc > 0.5) == (ct > 0.5))),
              "faces": int(ct.sum())}
    if plot:
        result["png"] = draw(xt[:8], pt[:8], ct[:8], predicted[:8], pc[:8],
                             os.path.join(out_dir, "landmarks.png"))
    return result


def _mark(canvas, x, y, colour, shape):
    """A 7-pixel cross or an open square centred on (x, y), clipped to the canvas."""
    h, w, _ = canvas.shape
    xi, yi = int(round(x)), int(round(y))
    if shape == "cross":
        cells = [(xi + d, yi) for d in range(-3, 4)] + [(xi, yi + d) for d in range(-3, 4)]
    else:
        cells = [(xi + d, yi + e) for d in range(-3, 4) for e in (-3, 3)] + \
                [(xi + e, yi + d) for d in range(-3, 4) for e in (-3, 3)]
    for cx, cy in cells:
        if 0 <= cx < w and 0 <= cy < h:
            canvas[cy, cx] = colour


def draw(images, true_points, present, pred_points, pred_presence, path, scale=4):
    """A row of up to 8 images (scaled up), true key points as green crosses
    where a face is annotated, predicted ones as red squares where p_c > 0.5."""
    n, size = len(images), images.shape[1]
    tile = size * scale
    canvas = np.full((tile + 4, n * (tile + 4), 3), 255, np.uint8)
    for i in range(n):
        grey = np.kron(np.clip(images[i, :, :, 0], 0, 1), np.ones((scale, scale)))
        x0 = i * (tile + 4) + 2
        canvas[2:2 + tile, x0:x0 + tile] = (grey[:, :, None] * 255).astype(np.uint8)
        for points, flag, colour, shape in ((true_points[i], present[i] > 0.5, TRUE_COLOUR,
                                             "cross"),
                                            (pred_points[i], pred_presence[i] > 0.5,
                                             PRED_COLOUR, "square")):
            if flag:
                for x, y in points * tile:
                    _mark(canvas[2:2 + tile, x0:x0 + tile], x - 0.5, y - 0.5, colour, shape)
    return write_png(path, canvas)
