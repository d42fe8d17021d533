"""The command line: `python -m fastconv train` trains, reports and plots."""
import os
import shutil

import fastconv
from helpers import run_python


def run_cli(*args):
    return run_python("-m", "fastconv", *args)


def test_train_command(tmp_path):
    try:
        import matplotlib  # noqa: F401
        plot = True
    except ImportError:
        plot = False
    proc = run_cli("train", "--epochs", "1", "--train-samples", "400", "--test-samples", "100",
                   "--quiet", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy" in proc.stdout
    png = tmp_path / "lenet5-training.png"
    assert png.exists() == plot
    if plot:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_command_line_is_an_error():
    proc = run_cli("train", "--model", "nope")
    assert proc.returncode != 0 and "invalid choice" in proc.stderr


def test_source_tree_without_extension_says_what_to_run(tmp_path):
    # A clone's root before `pip install -e .`: Python imports the source folder
    # (the current directory comes first), which holds no compiled extension.
    # Editable installs' import hooks are removed so that the copy is imported.
    src = os.path.dirname(fastconv.__file__)
    shutil.copytree(src, tmp_path / "fastconv",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'fastconv'\n")
    code = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path "
            "if 'fastconv' not in type(f).__module__]; import fastconv")
    proc = run_python("-c", code, cwd=tmp_path, same_build=False)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: fastconv: the compiled extension"), proc.stderr
    assert "pip install -e ." in last and str(tmp_path) in last
