"""The course's dense models, the CNN builders and the synthetic data sets."""
import numpy as np
import pytest

from fastconv import data, models, nn

from helpers import numeric_grad

# the course's propagate() example
W = np.array([[1.0], [2.0]])
B = 2.0
X = np.array([[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]])
Y = np.array([[1, 0, 1]])


def test_logistic_regression_propagate_matches_the_course():
    model = models.LogisticRegression()
    model.parameters = {"w": W.copy(), "b": B}
    cost, grads = model.propagate(X, Y)
    np.testing.assert_allclose(grads["dw"], [[0.99845601], [2.39507239]], rtol=1e-7)
    assert grads["db"] == pytest.approx(0.00145557813678)
    assert cost == pytest.approx(5.801545319394553)


def test_logistic_regression_learns_target_images():
    x, y = data.target_images(240, size=16, seed=0)
    X_ = x.reshape(len(x), -1).T
    train, test = slice(0, 200), slice(200, 240)
    model = models.LogisticRegression(learning_rate=0.01, num_iterations=600)
    model.fit(X_[:, train], y[train].reshape(1, -1))
    assert model.parameters["w"].shape == (X_.shape[0], 1)
    assert model.costs[-1] < model.costs[0]
    pred = model.predict(X_[:, test])
    assert pred.shape == (1, 40) and set(np.unique(pred)) <= {0, 1}
    assert np.mean(model.predict(X_[:, train]) == y[train]) > 0.8


def test_deep_nn_gradients_match_finite_differences(rng):
    model = models.DeepNN([4, 5, 3, 1], seed=3)
    model.initialize_parameters()
    Xs = rng.standard_normal((4, 7))
    Ys = (rng.random((1, 7)) > 0.5).astype(float)
    AL, caches = model.forward(Xs)
    grads = model.backward(AL, Ys, caches)

    def cost():
        a = np.clip(model.forward(Xs)[0], 1e-12, 1 - 1e-12)
        return -np.mean(Ys * np.log(a) + (1 - Ys) * np.log(1 - a))
    for name in ("W1", "b1", "W2", "b2", "W3", "b3"):
        num = numeric_grad(cost, model.parameters[name])
        np.testing.assert_allclose(grads["d" + name], num, atol=1e-7, err_msg=name)
    assert model.parameters["W2"].shape == (3, 5) and model.parameters["b2"].shape == (3, 1)


def test_shallow_nn_learns_a_nonlinear_boundary(rng):
    Xs = rng.uniform(-1, 1, (2, 400))
    Ys = (Xs[0] * Xs[1] > 0).astype(int).reshape(1, -1)   # XOR quadrants
    model = models.ShallowNN(n_x=2, n_h=6, num_iterations=3000, learning_rate=1.0)
    model.fit(Xs, Ys)
    assert set(model.parameters) == {"W1", "b1", "W2", "b2"}
    assert model.parameters["W1"].shape == (6, 2)
    assert np.mean(model.predict(Xs) == Ys) > 0.9
    assert model.costs[-1] < model.costs[0]


@pytest.mark.parametrize("builder,count", [
    ("lenet5", 61_706), ("resnet18", 11_689_512), ("resnet34", 21_797_672),
    ("resnet50", 25_557_032), ("alexnet", 61_100_840), ("vgg16", 138_357_544),
    ("mobilenet_v1", 4_231_976), ("resnext50_32x4d", 25_028_904)])
def test_classic_parameter_counts(builder, count):
    kwargs = {} if builder == "lenet5" else dict(num_classes=1000)
    assert getattr(models, builder)(**kwargs).num_params() == count


@pytest.mark.parametrize("builder,kwargs", [
    ("lenet5", dict(num_classes=5, in_channels=1)),
    ("small_resnet", dict(num_classes=4, in_channels=3)),
    ("small_inception", dict(num_classes=4, in_channels=3)),
    ("resnet18", dict(num_classes=4, in_channels=3, input_size=32, small=True)),
    ("mobilenet_v1", dict(num_classes=4, in_channels=3, input_size=32, width_multiplier=0.25)),
    ("resnext50_32x4d", dict(num_classes=4, in_channels=3, input_size=32, small=True)),
], ids=["lenet5", "small_resnet", "small_inception", "resnet18-small", "mobilenet_v1-0.25",
        "resnext50-small"])
def test_small_variants_run_on_32x32(builder, kwargs, rng):
    model = getattr(models, builder)(**kwargs)
    x = rng.standard_normal((2, 32, 32, kwargs["in_channels"])).astype(np.float32)
    y = np.array([0, 1])
    assert model.predict(x).shape == (2, kwargs["num_classes"])
    loss, _ = model.train_step(x, y)
    assert np.isfinite(loss)


def _convs(model):
    return [layer for _, layer, key in model.network.parameters() if key == "W"
            and isinstance(layer, nn.Conv2D)]


def test_mobilenet_v1_alternates_depthwise_and_pointwise_convolutions():
    model = models.mobilenet_v1(num_classes=1000)
    convs = _convs(model)
    assert len(convs) == 27                                  # stem + 13 x (depthwise, 1x1)
    for dw, pw in zip(convs[1::2], convs[2::2]):
        assert dw.groups == dw.in_channels == dw.out_channels and dw.kernel_size == (3, 3)
        assert dw.params["W"].shape == (3, 3, 1, dw.out_channels)
        assert pw.groups == 1 and pw.kernel_size == (1, 1)
    assert sum(c.stride == (2, 2) for c in convs) == 5       # 224 -> 7
    assert "(None, 7, 7, 1024)" in model.summary(print_fn=None)
    half = models.mobilenet_v1(num_classes=10, width_multiplier=0.5)
    assert _convs(half)[-1].out_channels == 512


@pytest.mark.parametrize("alpha", [0, -1.0, "1", True, None])
def test_mobilenet_v1_rejects_a_bad_width_multiplier(alpha):
    with pytest.raises(ValueError, match="width_multiplier"):
        models.mobilenet_v1(width_multiplier=alpha)


def test_resnext50_groups_the_3x3_convolutions():
    convs = _convs(models.resnext50_32x4d(num_classes=1000))
    grouped = [c for c in convs if c.groups > 1]
    assert len(grouped) == 16                                # one per bottleneck
    assert all(c.groups == 32 and c.kernel_size == (3, 3) for c in grouped)
    # 32 groups of 4, 8, 16, 32 channels in the four stages
    assert sorted({c.in_channels for c in grouped}) == [128, 256, 512, 1024]
    assert all(c.params["W"].shape == (3, 3, c.in_channels // 32, c.out_channels)
               for c in grouped)


def test_inception_builds_the_published_stack():
    model = models.inception(num_classes=1000)
    table = model.summary(print_fn=None)
    assert table.count("Concat") == 9                      # 3a-3b, 4a-4e, 5a-5b
    assert "(None, 7, 7, 1024)" in table and "(None, 1000)" in table


def test_data_sets_are_deterministic():
    a, la = data.shapes(20, seed=3)
    b, lb = data.shapes(20, seed=3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)
    assert a.shape == (20, 32, 32, 1) and a.dtype == np.float32
    assert a.min() >= 0 and a.max() <= 1 and set(la) <= set(range(len(data.SHAPE_CLASSES)))
    t, lt = data.target_images(10, seed=1)
    assert t.shape == (10, 64, 64, 3) and set(lt) <= {0, 1}


def test_training_on_shapes_beats_chance():
    x, y = data.shapes(1500, seed=0)
    xt, yt = data.shapes(300, seed=1)
    model = models.lenet5(num_classes=5)
    history = model.fit(x, y, epochs=3, batch_size=32, verbose=False)
    assert history["loss"][-1] < history["loss"][0]
    assert model.evaluate(xt, yt)["accuracy"] > 0.6          # chance is 0.2
