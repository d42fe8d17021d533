"""What Model.fit prints while it trains: a redrawn progress bar per batch on a
terminal, one line per epoch in a log (a file, a pipe, CI), nothing when quiet.

verbose: 0 or False prints nothing; 1 or True ("auto") draws the bar when its
stream (standard error, where tqdm draws) is a terminal and prints one line per
epoch otherwise; 2 always prints one line per epoch.
"""
import sys
import time


def mode(verbose, stream=None):
    """"bar", "lines" or None for a `verbose` setting and the bar's stream."""
    if verbose is None or verbose is False or verbose == 0:
        return None
    if verbose == 2:
        return "lines"
    if verbose is True or verbose == 1 or verbose == "auto":
        stream = sys.stderr if stream is None else stream
        isatty = getattr(stream, "isatty", None)
        return "bar" if isatty is not None and isatty() else "lines"
    raise ValueError(f"Model.fit: verbose must be 0, 1, 2, True, False or 'auto', got {verbose!r}")


def epoch_line(epoch, epochs, logs, seconds):
    """'epoch 3/8: loss 0.4321, accuracy 0.876, val_loss ..., val_accuracy ... (2.1 s)';
    a metric that is NaN (a loss without an accuracy, such as YOLO's) is left out."""
    parts = [f"{name} {value:.4f}" if "loss" in name else f"{name} {value:.3f}"
             for name, value in logs.items() if value == value]
    return f"epoch {epoch + 1}/{epochs}: {', '.join(parts)} ({seconds:.1f} s)"


class Reporter:
    """Shows one epoch's progress in the chosen mode."""

    def __init__(self, verbose, epochs, stream=None, out=None):
        self.mode = mode(verbose, stream)
        self.epochs = epochs
        self.stream = stream
        self.out = out
        self._bar = None
        self._start = 0.0

    def batches(self, batches, epoch):
        """Iterate over an epoch's batches (through a bar in "bar" mode)."""
        self._start = time.perf_counter()
        if self.mode != "bar":
            return batches
        from tqdm import tqdm
        self._bar = tqdm(batches, desc=f"epoch {epoch + 1}/{self.epochs}", unit="batch",
                         leave=True, mininterval=0.5, file=self.stream)
        return self._bar

    def update(self, loss, accuracy):
        """The running loss and accuracy after a batch (shown on the bar)."""
        if self._bar is not None:
            self._bar.set_postfix(loss=f"{loss:.4f}", acc=f"{accuracy:.3f}")

    def end_epoch(self, epoch, logs):
        """The epoch's results: a line in "lines" mode; validation scores under the bar."""
        seconds = time.perf_counter() - self._start
        if self.mode == "lines":
            print(epoch_line(epoch, self.epochs, logs, seconds), file=self.out or sys.stdout,
                  flush=True)
        elif self.mode == "bar" and "val_loss" in logs:
            self._bar.write(f"epoch {epoch + 1}: val_loss {logs['val_loss']:.4f} "
                            f"val_accuracy {logs['val_accuracy']:.3f}")
