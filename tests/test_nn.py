"""fastconv.nn: float64 finite-difference checks of every layer, loss and of
whole small networks; Model behaviour (save/load, summary, determinism)."""
import numpy as np
import pytest

from fastconv import nn

from helpers import assert_close, numeric_grad, requires_openmp, threads

def sampled_grad(f, arr, rng, samples=12):
    """Central differences of the scalar f() w.r.t. `samples` random entries of
    arr: (their flat positions, the derivatives)."""
    idx = rng.choice(arr.size, size=min(samples, arr.size), replace=False)
    return idx, numeric_grad(f, arr, idx)


def check_layer(layer, x, rng, training=True, atol=1e-6):
    """backward() against finite differences for the input and every parameter."""
    layer.astype(np.float64)
    x = x.astype(np.float64)
    y = layer.forward(x, training=training)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    analytic = {path: lyr.grads[key].copy() for path, lyr, key in layer.parameters()}
    loss = lambda: float(np.sum(layer.forward(x, training=training) * dy))  # noqa: E731
    if dx is not None:
        idx, num = sampled_grad(loss, x, rng)
        np.testing.assert_allclose(dx.reshape(-1)[idx], num, atol=atol, rtol=1e-5)
    for path, lyr, key in layer.parameters():
        idx, num = sampled_grad(loss, lyr.params[key], rng)
        np.testing.assert_allclose(analytic[path].reshape(-1)[idx], num, atol=atol, rtol=1e-5,
                                   err_msg=path)


# (id, layer factory, input shape); N, H, W and C differ so that a layer
# reading the wrong axis cannot pass
LAYERS = [
    ("conv3x3-pad1", lambda: nn.Conv2D(3, 4, 3, padding=1), (2, 6, 5, 3)),
    ("conv3x2-s2-g2-relu", lambda: nn.Conv2D(4, 6, (3, 2), stride=2, groups=2,
                                             activation="relu"), (2, 7, 6, 4)),
    ("conv2x2-nobias-tanh", lambda: nn.Conv2D(3, 2, 2, bias=False, activation="tanh"),
     (2, 5, 6, 3)),
    ("conv3x3-same-d2-sigmoid", lambda: nn.Conv2D(3, 2, 3, padding="same", dilation=2,
                                                  activation="sigmoid"), (1, 6, 7, 3)),
    ("conv1x1-leaky", lambda: nn.Conv2D(2, 3, 1, activation="leaky_relu"), (3, 4, 5, 2)),
    ("convT4x4-s2-p1-relu", lambda: nn.Conv2DTranspose(3, 4, 4, stride=2, padding=1,
                                                       activation="relu"), (2, 5, 4, 3)),
    ("convT3x2-s2-op1-g2-tanh", lambda: nn.Conv2DTranspose(4, 6, (3, 2), stride=2, padding=1,
                                                           output_padding=1, groups=2,
                                                           activation="tanh"), (2, 4, 5, 4)),
    ("dense", lambda: nn.Dense(7, 5), (4, 7)),
    ("dense-relu", lambda: nn.Dense(7, 5, activation="relu"), (4, 7)),
    ("dense-sigmoid", lambda: nn.Dense(7, 5, activation="sigmoid"), (4, 7)),
    ("dense-tanh-nobias", lambda: nn.Dense(7, 5, activation="tanh", bias=False), (4, 7)),
    ("maxpool2", lambda: nn.MaxPool2D(2), (5, 6, 4, 3)),
    ("maxpool3-s2-p1", lambda: nn.MaxPool2D(3, 2, 1), (2, 7, 5, 3)),
    ("avgpool2-s1", lambda: nn.AvgPool2D(2, 1), (2, 5, 4, 3)),
    ("globalavgpool", lambda: nn.GlobalAvgPool2D(), (3, 4, 5, 6)),
    ("flatten", lambda: nn.Flatten(), (3, 2, 4, 5)),
    ("relu", lambda: nn.ReLU(), (4, 9)),
    ("leakyrelu0.1", lambda: nn.LeakyReLU(0.1), (4, 9)),
    ("sigmoid", lambda: nn.Sigmoid(), (4, 9)),
    ("tanh", lambda: nn.Tanh(), (4, 9)),
    ("batchnorm-maps", lambda: nn.BatchNorm2D(3), (4, 5, 2, 3)),
    ("batchnorm-features", lambda: nn.BatchNorm2D(5), (6, 5)),
    ("residual-identity", lambda: nn.Residual(nn.Sequential(nn.Conv2D(3, 3, 3, padding=1),
                                                            nn.BatchNorm2D(3))), (2, 5, 4, 3)),
    ("residual-projection",
     lambda: nn.Residual(nn.Sequential(nn.Conv2D(3, 4, 3, stride=2, padding=1, activation="relu"),
                                       nn.Conv2D(4, 4, 3, padding=1)),
                         nn.Sequential(nn.Conv2D(3, 4, 1, stride=2), nn.BatchNorm2D(4))),
     (2, 6, 5, 3)),
    ("concat", lambda: nn.Concat(nn.Conv2D(3, 2, 1),
                                 nn.Sequential(nn.Conv2D(3, 2, 1, activation="relu"),
                                               nn.Conv2D(2, 3, 3, padding=1)),
                                 nn.Sequential(nn.MaxPool2D(3, 1, 1), nn.Conv2D(3, 1, 1))),
     (2, 5, 4, 3)),
    ("sequential", lambda: nn.Sequential(nn.Conv2D(1, 3, 3, activation="relu"), nn.MaxPool2D(2),
                                         nn.Flatten(), nn.Dense(12, 4, activation="tanh"),
                                         nn.Dense(4, 3)), (3, 6, 7, 1)),
]


@pytest.mark.parametrize("make,shape", [pytest.param(m, s, id=i) for i, m, s in LAYERS])
def test_layer_gradients(make, shape, rng):
    nn.seed(1)
    x = rng.standard_normal(shape) + (0.1 if len(shape) == 2 else 0.0)
    # keep relu/max-pool inputs away from kinks and ties
    check_layer(make(), x, rng)


def test_batchnorm_eval_mode_gradient(rng):
    bn = nn.BatchNorm2D(3)
    bn.forward(rng.standard_normal((8, 4, 5, 3)).astype(np.float32), training=True)
    check_layer(bn, rng.standard_normal((2, 4, 5, 3)), rng, training=False)


def test_dropout(rng):
    nn.seed(3)
    drop = nn.Dropout(0.25)
    x = rng.standard_normal((200, 50))
    y = drop.forward(x, training=True)
    kept = y != 0
    assert 0.7 < kept.mean() < 0.8
    np.testing.assert_allclose(y[kept], x[kept] / 0.75)
    np.testing.assert_allclose(drop.backward(np.ones_like(x)), kept / 0.75)
    np.testing.assert_array_equal(drop.forward(x, training=False), x)


@pytest.mark.parametrize("loss,pred_shape,target", [
    (nn.SoftmaxCrossEntropy(), (5, 4), np.array([0, 3, 1, 1, 2])),
    (nn.BinaryCrossEntropy(), (6, 1), np.array([1, 0, 1, 1, 0, 0])),
    (nn.BinaryCrossEntropy(from_logits=True), (6,), np.array([1, 0, 1, 1, 0, 0])),
    (nn.MeanSquaredError(), (4, 3), None),
], ids=["softmax-ce", "bce", "bce-logits", "mse"])
def test_loss_gradients(loss, pred_shape, target, rng):
    pred = rng.standard_normal(pred_shape)
    if isinstance(loss, nn.BinaryCrossEntropy) and not loss.from_logits:
        pred = 1 / (1 + np.exp(-pred))
    if target is None:
        target = rng.standard_normal(pred_shape)
    loss.forward(pred, target)
    grad = loss.backward()
    idx, num = sampled_grad(lambda: loss.forward(pred, target), pred, rng, samples=pred.size)
    np.testing.assert_allclose(grad.reshape(-1)[idx], num, atol=1e-7)


def test_losses_are_stable():
    ce = nn.SoftmaxCrossEntropy()
    assert np.isfinite(ce.forward(np.array([[1000.0, -1000.0]]), np.array([1])))
    bce = nn.BinaryCrossEntropy()
    assert np.isfinite(bce.forward(np.array([0.0, 1.0]), np.array([1, 0])))
    logits = nn.BinaryCrossEntropy(from_logits=True)
    assert logits.forward(np.array([800.0]), np.array([1])) == pytest.approx(0.0)


def small_model(seed=0):
    nn.seed(seed)
    net = nn.Sequential(nn.Conv2D(1, 4, 3, padding=1, activation="relu"), nn.BatchNorm2D(4),
                        nn.MaxPool2D(2), nn.Flatten(), nn.Dropout(0.1),
                        nn.Dense(4 * 4 * 4, 3))
    return nn.Model(net, nn.SoftmaxCrossEntropy(), nn.Adam(learning_rate=0.01), (8, 8, 1))


def toy_data(n, rng):
    """Three classes told apart by where the bright quadrant is."""
    y = rng.integers(0, 3, n)
    x = rng.normal(0, 0.1, (n, 8, 8, 1)).astype(np.float32)
    for i, label in enumerate(y):
        x[i, (label // 2) * 4:(label // 2) * 4 + 4, (label % 2) * 4:(label % 2) * 4 + 4] += 1
    return x, y


def test_model_learns_and_is_deterministic(rng):
    x, y = toy_data(300, rng)
    histories, weights = [], []
    for _ in range(2):
        model = small_model()
        histories.append(model.fit(x, y, epochs=4, batch_size=32, verbose=False, seed=5,
                                   validation_data=(x[:50], y[:50])))
        weights.append(model.network.layers[0].params["W"].copy())
    h = histories[0]
    assert h["loss"][-1] < h["loss"][0]
    assert h["accuracy"][-1] > 0.9
    assert set(h) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    np.testing.assert_array_equal(weights[0], weights[1])
    assert histories[0] == histories[1]


def test_save_load_round_trip(tmp_path, rng):
    x, y = toy_data(64, rng)
    model = small_model()
    model.fit(x, y, epochs=1, batch_size=16, verbose=False)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = nn.Model.load(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.num_params() == model.num_params()
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.input_shape == (8, 8, 1)


def test_summary_and_counts():
    model = small_model()
    table = model.summary(print_fn=None)
    assert "(None, 8, 8, 4)" in table and "(None, 3)" in table
    expected = 1 * 9 * 4 + 4 + 2 * 4 + 64 * 3 + 3
    assert model.num_params() == expected
    assert f"{expected:,}" in table


def test_first_conv_layer_skips_dx(rng):
    model = small_model()
    assert model.network.layers[0].need_dx is False
    x, y = toy_data(8, rng)
    model.train_step(x, y)


def test_layer_argument_errors():
    with pytest.raises(ValueError, match="Conv2D: in_channels must be >= 1"):
        nn.Conv2D(0, 3, 3)
    with pytest.raises(ValueError, match="groups=2 must divide"):
        nn.Conv2D(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="Dense: activation must be"):
        nn.Dense(3, 4, activation="softplus")
    with pytest.raises(ValueError, match=r"Dense: expected input of shape \(N, 3\)"):
        nn.Dense(3, 4).forward(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="Dropout: rate must be in"):
        nn.Dropout(1.0)
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        nn.SGD(learning_rate=0)
    with pytest.raises(ValueError, match="x has 3 samples but y has 2"):
        small_model().fit(np.zeros((3, 8, 8, 1)), np.zeros(2), verbose=False)


def test_optimizers_match_their_formulas():
    layer = nn.Dense(1, 1, bias=False).astype(np.float64)
    layer.params["W"][...] = 1.0
    layer.grads["W"] = np.array([[0.5]])
    sgd = nn.SGD(lr=0.1, momentum=0.9)
    sgd.step(layer.parameters())
    sgd.step(layer.parameters())          # v = 0.5, then 0.9 * 0.5 + 0.5
    assert layer.params["W"][0, 0] == pytest.approx(1 - 0.1 * 0.5 - 0.1 * 0.95)
    layer.params["W"][...] = 1.0
    adam = nn.Adam(learning_rate=0.1)
    adam.step(layer.parameters())          # first step moves by lr * sign(g)
    assert layer.params["W"][0, 0] == pytest.approx(0.9, abs=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batchnorm_matches_its_formula(dtype, rng):
    bn = nn.BatchNorm2D(5).astype(dtype)
    bn.params["gamma"][...] = rng.uniform(0.5, 2, 5)
    bn.params["beta"][...] = rng.standard_normal(5)
    x = (rng.standard_normal((4, 30, 31, 5)) * 3 + 2).astype(dtype)   # several row chunks
    y = bn.forward(x, training=True)
    mean, var = x.astype(np.float64).mean(axis=(0, 1, 2)), x.astype(np.float64).var(axis=(0, 1, 2))
    gamma, beta = bn.params["gamma"].astype(np.float64), bn.params["beta"].astype(np.float64)
    expected = (x - mean) / np.sqrt(var + 1e-5) * gamma + beta
    # the terms summed: |x| and |mean| scaled by gamma / std, and beta
    mag = (np.abs(x) + np.abs(mean)) * gamma / np.sqrt(var + 1e-5) + np.abs(beta)
    assert_close(y, expected.astype(dtype), mag)
    count = x.size // 5
    assert_close(bn.buffers["running_mean"], (0.1 * mean).astype(dtype))
    assert_close(bn.buffers["running_var"], (0.9 + 0.1 * var * count / (count - 1)).astype(dtype))
    y_eval = bn.forward(x, training=False)
    run_mean = bn.buffers["running_mean"].astype(np.float64)
    run_var = bn.buffers["running_var"].astype(np.float64)
    expected = (x - run_mean) / np.sqrt(run_var + 1e-5) * gamma + beta
    assert_close(y_eval, expected.astype(dtype),
                 (np.abs(x) + np.abs(run_mean)) * gamma / np.sqrt(run_var + 1e-5) + np.abs(beta))


@requires_openmp
def test_batchnorm_is_thread_invariant(rng):
    x = rng.standard_normal((8, 40, 40, 16)).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    results = []
    for n in (1, 2):
        with threads(n):
            bn = nn.BatchNorm2D(16)
            y = bn.forward(x, training=True)
            results.append((y, bn.backward(dy), bn.grads["gamma"], bn.grads["beta"]))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
