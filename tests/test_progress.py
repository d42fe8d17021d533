"""What fit and the command-line tools print while training: a progress bar on a
terminal, one line per epoch in a log."""
import io
import re
import sys

import numpy as np
import pytest

from fastconv import nn
from fastconv.nn import progress
from helpers import run_python

EPOCH_LINE = re.compile(r"^epoch (\d+)/(\d+): loss \d+\.\d{4}, accuracy \d\.\d{3}"
                        r"(, val_loss \d+\.\d{4}, val_accuracy \d\.\d{3})? \(\d+\.\d s\)$")


class Terminal(io.StringIO):
    def isatty(self):
        return True


def tiny_model():
    nn.seed(0)
    net = nn.Sequential(nn.Conv2D(1, 2, 3, padding=1), nn.Flatten(), nn.Dense(2 * 6 * 6, 2))
    return nn.Model(net, nn.SoftmaxCrossEntropy(), nn.Adam(learning_rate=0.01))


def tiny_data(rng):
    return rng.random((40, 6, 6, 1)).astype(np.float32), rng.integers(0, 2, 40)


@pytest.mark.parametrize("verbose,tty,want", [
    (True, True, "bar"), (1, True, "bar"), ("auto", True, "bar"), (True, False, "lines"),
    (2, True, "lines"), (2, False, "lines"), (False, True, None), (0, False, None)])
def test_mode_follows_the_terminal(verbose, tty, want):
    stream = Terminal() if tty else io.StringIO()
    assert progress.mode(verbose, stream) == want


def test_a_metric_without_a_value_is_left_out_of_the_line():
    line = progress.epoch_line(0, 2, {"loss": 1.5, "accuracy": float("nan")}, 0.25)
    assert line == "epoch 1/2: loss 1.5000 (0.2 s)"


def test_bad_verbose_is_an_error_before_training():
    with pytest.raises(ValueError, match="verbose must be"):
        tiny_model().fit(np.zeros((4, 6, 6, 1), np.float32), np.zeros(4, int), verbose="loud")


def test_fit_in_a_log_prints_one_line_per_epoch(rng, capsys):
    x, y = tiny_data(rng)
    tiny_model().fit(x, y, epochs=3, batch_size=8, validation_data=(x[:8], y[:8]))
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 3, out
    for i, line in enumerate(lines):
        match = EPOCH_LINE.match(line)
        assert match and match.group(1) == str(i + 1) and match.group(3), line
    assert err == ""


def test_fit_on_a_terminal_draws_the_bar(rng, capsys, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    x, y = tiny_data(rng)
    tiny_model().fit(x, y, epochs=2, batch_size=8)
    assert capsys.readouterr().out == ""
    drawn = terminal.getvalue()
    assert "\r" in drawn and "epoch 2/2" in drawn and "5/5" in drawn, drawn


def test_quiet_fit_prints_nothing(rng, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal())
    x, y = tiny_data(rng)
    tiny_model().fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert capsys.readouterr().out == "" and sys.stderr.getvalue() == ""


def test_the_command_line_logs_one_line_per_epoch(tmp_path):
    proc = run_python("-m", "fastconv", "train", "--epochs", "2", "--train-samples", "128",
                      "--test-samples", "32", "--no-plot", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    epoch_lines = [line for line in proc.stdout.splitlines() if line.startswith("epoch ")]
    assert [EPOCH_LINE.match(line).group(1) for line in epoch_lines] == ["1", "2"], proc.stdout
    assert "\r" not in proc.stderr and "batch/s" not in proc.stderr, proc.stderr
