"""Models, layers, losses and optimizers pickle (as Dask and multiprocessing
send them) and the copies predict exactly what the originals do; the bytes
hold no per-call caches."""
import pickle

import numpy as np
import pytest

from fastconv import detect, models, nn


def trained(model, x, y, steps=2):
    for _ in range(steps):
        model.train_step(x, y)      # leaves inputs, outputs and gradients behind
    return model


@pytest.mark.parametrize("build,shape,labels", [
    (lambda: models.lenet5(num_classes=5), (8, 32, 32, 1), 5),
    (lambda: models.small_resnet(num_classes=5, in_channels=1, width=8), (8, 32, 32, 1), 5),
    (lambda: models.small_inception(num_classes=5, in_channels=1), (4, 32, 32, 1), 5),
    (lambda: detect.tiny_yolo(seed=1), (2, 64, 64, 3), None),
], ids=["lenet5", "small_resnet", "small_inception", "tiny_yolo"])
def test_a_trained_model_pickles_to_the_same_predictions(build, shape, labels, rng):
    x = rng.random(shape).astype(np.float32)
    model = build()
    if labels is None:
        y = (rng.random(model.predict(x).shape) > 0.5).astype(np.float32)   # YOLO targets
    else:
        y = rng.integers(0, labels, len(x))
    fresh = pickle.dumps(model)
    trained(model, x, y)
    blob = pickle.dumps(model)
    copy = pickle.loads(blob)
    np.testing.assert_array_equal(copy.predict(x), model.predict(x))
    # the same training continues identically (optimizer state travels along)
    trained(model, x, y, 1)
    trained(copy, x, y, 1)
    np.testing.assert_array_equal(copy.predict(x), model.predict(x))
    # only weights, buffers and Adam's two moments: no activations or gradients
    params = sum(p.nbytes for p in (layer.params[k] for _, layer, k in model.network.parameters()))
    assert len(blob) < len(fresh) + 2 * params + 20_000, (len(blob), len(fresh), params)


def test_pickled_layers_and_losses_hold_no_caches(rng):
    layers = [nn.Conv2D(3, 4, 3, padding=1, activation="relu"), nn.MaxPool2D(2),
              nn.BatchNorm2D(4), nn.Dropout(0.5), nn.Flatten(), nn.Dense(64, 3, "sigmoid"),
              nn.LeakyReLU(0.1), nn.Tanh()]
    net = nn.Sequential(*layers[:6])
    x = rng.random((5, 8, 8, 3)).astype(np.float32)
    y = net.forward(x, training=True)
    loss = nn.MeanSquaredError()
    loss.forward(y, np.zeros_like(y))
    net.backward(loss.backward())
    layers[6].forward(x)
    layers[7].forward(x)
    for obj in layers + [net, loss, nn.SoftmaxCrossEntropy(), nn.BinaryCrossEntropy(True)]:
        copy = pickle.loads(pickle.dumps(obj))
        assert type(copy) is type(obj)
        assert not [k for k in vars(copy) if k.startswith("_")], vars(copy).keys()
        if isinstance(obj, nn.Layer):
            assert copy.grads == {}
            assert copy.get_config() == obj.get_config()
            for key, value in obj.params.items():
                np.testing.assert_array_equal(copy.params[key], value)
            for key, value in obj.buffers.items():
                np.testing.assert_array_equal(copy.buffers[key], value)
    assert obj.get_config() == copy.get_config()
    # the original keeps its caches: pickling copies, it does not strip
    assert hasattr(layers[0], "_x") and layers[0].grads
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(net)).forward(x), net.forward(x))


@pytest.mark.parametrize("opt", [nn.SGD(0.1, momentum=0.9), nn.Adam(lr=0.01)],
                         ids=["sgd", "adam"])
def test_optimizers_pickle_with_their_state(opt, rng):
    layer = nn.Dense(4, 3)
    x = rng.random((6, 4)).astype(np.float32)
    for _ in range(2):
        layer.forward(x)
        layer.backward(np.ones((6, 3), np.float32))
        opt.step(layer.parameters())
    twin_layer, twin_opt = pickle.loads(pickle.dumps((layer, opt)))
    assert twin_opt.get_config() == opt.get_config()
    layer.backward(np.ones((6, 3), np.float32))      # grads of the same batch
    twin_layer.forward(x)
    twin_layer.backward(np.ones((6, 3), np.float32))
    opt.step(layer.parameters())
    twin_opt.step(twin_layer.parameters())
    np.testing.assert_array_equal(twin_layer.params["W"], layer.params["W"])


def test_course_models_pickle():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 50))
    Y = (X[0] > 0).astype(float)[None]
    for model in (models.LogisticRegression(num_iterations=50),
                  models.DeepNN([3, 4, 1], num_iterations=50),
                  models.ShallowNN(3, 4, num_iterations=50)):
        model.fit(X, Y)
        copy = pickle.loads(pickle.dumps(model))
        np.testing.assert_array_equal(copy.predict_proba(X), model.predict_proba(X))
