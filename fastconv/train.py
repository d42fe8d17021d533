"""`python -m fastconv train`: train a CNN on the synthetic shapes set, report
the test accuracy and draw the loss/accuracy curves and first-layer filters."""
import os
import time

import numpy as np

from . import data, models

BUILDERS = {"lenet5": models.lenet5, "small_resnet": models.small_resnet,
            "small_inception": models.small_inception}


def train(model_name="lenet5", epochs=8, batch_size=64, train_samples=8000, test_samples=2000,
          seed=0, out_dir=".", plot=True, verbose=True):
    """Train, evaluate and (optionally) plot; returns a dict of the results."""
    x, y = data.shapes(train_samples, seed=seed)
    xt, yt = data.shapes(test_samples, seed=seed + 1)
    model = BUILDERS[model_name](num_classes=len(data.SHAPE_CLASSES), in_channels=1,
                                 input_size=x.shape[1], seed=seed)
    if verbose:
        model.summary()
    start = time.perf_counter()
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size, validation_data=(xt, yt),
                        verbose=verbose, seed=seed)
    seconds = time.perf_counter() - start
    scores = model.evaluate(xt, yt)
    result = {"model": model, "history": history, "seconds": seconds, **scores}
    if plot:
        result["png"] = _plot(model, history, os.path.join(out_dir, f"{model_name}-training.png"))
    return result


def _first_conv_filters(model):
    from .nn import Conv2D
    stack = [model.network]
    while stack:
        layer = stack.pop(0)
        if isinstance(layer, Conv2D):
            return layer.params["W"]
        stack = list(layer.children()) + stack
    return None


def _plot(model, history, path):
    """Loss/accuracy curves and the first convolution's filters in one PNG;
    None when matplotlib is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    filters = _first_conv_filters(model)
    count = 0 if filters is None else min(filters.shape[-1], 16)
    fig = plt.figure(figsize=(12, 4))
    ax1 = fig.add_subplot(1, 3, 1)
    epochs = np.arange(1, len(history["loss"]) + 1)
    ax1.plot(epochs, history["loss"], "o-", label="train")
    ax1.plot(epochs, history["val_loss"], "s-", label="test")
    ax1.set(title="loss", xlabel="epoch")
    ax1.legend()
    ax2 = fig.add_subplot(1, 3, 2)
    ax2.plot(epochs, history["accuracy"], "o-", label="train")
    ax2.plot(epochs, history["val_accuracy"], "s-", label="test")
    ax2.set(title="accuracy", xlabel="epoch", ylim=(0, 1.02))
    ax2.legend()
    cols = int(np.ceil(np.sqrt(max(count, 1))))
    for k in range(count):
        ax = fig.add_subplot(cols, 3 * cols, (k // cols) * 3 * cols + 2 * cols + k % cols + 1)
        ax.imshow(filters[:, :, 0, k], cmap="gray")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"first-layer filters (right), {model.num_params():,} parameters")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
