"""Module layering: which modules may import which, and loading a saved model
whose loss lives in a module the loading process never imported."""
import os
import re
import textwrap

import numpy as np
import pytest

import fastconv
from fastconv import boxes, detect, nn

from helpers import run_python

PACKAGE = os.path.dirname(fastconv.__file__)


def test_nothing_in_nn_imports_the_bridge():
    sources = [os.path.join(PACKAGE, "nn", f) for f in os.listdir(os.path.join(PACKAGE, "nn"))
               if f.endswith(".py")]
    assert len(sources) >= 5
    for path in sources:
        with open(path) as f:
            assert "_native" not in f.read(), path


@pytest.mark.parametrize("module,forbidden", [
    ("fastconv.boxes", ("fastconv.nn", "fastconv.detect", "fastconv.data")),
    ("fastconv.data", ("fastconv.nn", "fastconv.detect")),
    ("fastconv.nn", ("fastconv.detect",)),
], ids=lambda v: v if isinstance(v, str) else "-".join(m.split(".")[1] for m in v))
def test_import_layering(module, forbidden):
    code = (f"import sys, {module}\n"
            f"print(sorted(m for m in sys.modules if m.startswith('fastconv')))")
    proc = run_python("-c", code)
    assert proc.returncode == 0, proc.stderr
    loaded = set(re.findall(r"'([\w.]+)'", proc.stdout))
    assert module in loaded          # the listing does see what was imported
    assert not loaded & set(forbidden), sorted(loaded & set(forbidden))


def test_detect_reexports_the_box_operations():
    for name in ("iou", "non_max_suppression", "to_xyxy", "to_center"):
        assert getattr(detect, name) is getattr(boxes, name)


def test_a_saved_detector_loads_in_a_process_that_never_imported_detect(tmp_path, rng):
    model = detect.tiny_yolo(seed=4)
    x = rng.random((3, 64, 64, 3)).astype(np.float32)
    model.save(tmp_path / "detector.npz")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "expected.npy", model.predict(x))
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        from fastconv import nn
        assert "fastconv.detect" not in sys.modules, "nn imported detect"
        m = nn.Model.load({str(tmp_path / "detector.npz")!r})
        assert type(m.loss).__name__ == "YoloLoss", type(m.loss)
        got = m.predict(np.load({str(tmp_path / "x.npy")!r}))
        np.testing.assert_array_equal(got, np.load({str(tmp_path / "expected.npy")!r}))
        print("loaded-ok")
    """)
    proc = run_python("-c", script)
    assert proc.returncode == 0, proc.stderr
    assert "loaded-ok" in proc.stdout


def test_register_loss_rejects_a_second_class_of_the_same_name():
    class MeanSquaredError(nn.Loss):
        pass
    with pytest.raises(ValueError, match="a loss named 'MeanSquaredError' is already registered"):
        nn.register_loss(MeanSquaredError)
    with pytest.raises(TypeError, match="register_loss: expected a subclass"):
        nn.register_loss(int)


def test_loading_an_unknown_loss_says_what_to_do():
    with pytest.raises(ValueError, match="unknown loss 'Nope'.*register_loss"):
        nn.losses.loss_from_config({"class": "Nope"})
    with pytest.raises(ValueError, match="module 'no_such_module_xyz', which cannot be imported"):
        nn.losses.loss_from_config({"class": "Nope", "module": "no_such_module_xyz"})
