"""The command line: `python -m fastconv train` trains, reports and plots."""
import os
import subprocess
import sys
import tempfile

import fastconv


def run_cli(*args, cwd):
    env = dict(os.environ)
    here = os.path.dirname(os.path.dirname(fastconv.__file__))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "fastconv", *args], capture_output=True,
                          text=True, env=env, cwd=cwd)


def test_train_command(tmp_path):
    try:
        import matplotlib  # noqa: F401
        plot = True
    except ImportError:
        plot = False
    proc = run_cli("train", "--epochs", "1", "--train-samples", "400", "--test-samples", "100",
                   "--quiet", "--out", str(tmp_path), cwd=tempfile.gettempdir())
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy" in proc.stdout
    png = tmp_path / "lenet5-training.png"
    assert png.exists() == plot
    if plot:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_command_line_is_an_error():
    proc = run_cli("train", "--model", "nope", cwd=tempfile.gettempdir())
    assert proc.returncode != 0 and "invalid choice" in proc.stderr
