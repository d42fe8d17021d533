"""Landmark detection: the synthetic faces, the loss, the model and the command."""
import numpy as np
import pytest

from fastconv import data, detect
from fastconv.png import write_png
from helpers import numeric_grad, run_python


def test_faces_are_deterministic_and_annotated():
    x, points, present = data.faces(60, seed=3)
    again = data.faces(60, seed=3)
    for a, b in zip((x, points, present), again):
        np.testing.assert_array_equal(a, b)
    assert x.shape == (60, 32, 32, 1) and x.dtype == np.float32
    assert points.shape == (60, len(data.FACE_POINTS), 2)
    assert 0 < present.sum() < 60
    faces = points[present == 1]
    assert ((faces > 0) & (faces < 1)).all()
    assert (points[present == 0] == 0).all()
    # the eyes are dark on a bright face: the pixel under each eye is darker
    # than the face around the nose/eye midpoint
    i = int(np.flatnonzero(present)[0])
    eye = (points[i, 0] * 32).astype(int)
    cheek = ((points[i, 0] + points[i, 2]) / 2 * 32).astype(int)
    assert x[i, eye[1], eye[0], 0] < x[i, cheek[1], cheek[0], 0]


def test_landmark_loss_gradient(rng):
    pred = rng.standard_normal((4, 11))
    target = detect.landmark_target(rng.random((4, 5, 2)), [1, 0, 1, 1]).astype(np.float64)
    loss = detect.LandmarkLoss(lambda_coord=3.0)
    loss.forward(pred, target)
    np.testing.assert_allclose(loss.backward(), numeric_grad(lambda: loss.forward(pred, target),
                                                             pred), atol=1e-8)
    # no face: only p_c counts
    moved = pred.copy()
    moved[1, 1:] += 5
    assert loss.forward(moved, target) == pytest.approx(loss.forward(pred, target))


def test_normalised_point_error():
    true = np.array([[[0.3, 0.4], [0.5, 0.4], [0.4, 0.5]]])
    pred = true + [[[0.02, 0.0], [0.0, 0.0], [0.0, 0.0]]]
    # the mean distance 0.02 / 3 over an inter-ocular distance of 0.2
    assert detect.normalised_point_error(pred, true) == pytest.approx(0.02 / 3 / 0.2)
    with pytest.raises(ValueError, match="no image holds a face"):
        detect.normalised_point_error(pred, true, [0])


def test_a_short_training_run_learns():
    x, points, present = data.faces(600, seed=0)
    model = detect.landmark_model(seed=1)
    y = detect.landmark_target(points, present)
    untrained = detect.normalised_point_error(detect.predict_landmarks(model, x[:200])[1],
                                              points[:200], present[:200])
    history = model.fit(x, y, epochs=3, batch_size=32, verbose=False)
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    _, predicted = detect.predict_landmarks(model, x[:200])
    assert detect.normalised_point_error(predicted, points[:200], present[:200]) < 0.5 * untrained


def test_landmarks_command(tmp_path):
    proc = run_python("-m", "fastconv", "landmarks", "--epochs", "1", "--train-samples", "200",
                      "--test-samples", "40", "--quiet", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "mean normalised point error" in proc.stdout
    png = (tmp_path / "landmarks.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"


def test_png_writer_round_trip(tmp_path):
    zlib = pytest.importorskip("zlib")
    rgb = (np.arange(5 * 7 * 3).reshape(5, 7, 3) * 3 % 256).astype(np.uint8)
    raw = open(write_png(tmp_path / "t.png", rgb), "rb").read()
    width, height = int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")
    assert (width, height) == (7, 5)
    start = raw.index(b"IDAT") + 4
    length = int.from_bytes(raw[start - 8:start - 4], "big")
    rows = np.frombuffer(zlib.decompress(raw[start:start + length]), np.uint8).reshape(5, 22)
    assert (rows[:, 0] == 0).all()
    np.testing.assert_array_equal(rows[:, 1:].reshape(5, 7, 3), rgb)
    with pytest.raises(ValueError, match="uint8"):
        write_png(tmp_path / "bad.png", rgb.astype(np.float32))
