"""Model.predict's inference path (nn/inference.py): BatchNorm folded, activations
and residual sums fused, activations in reused buffers.  Its outputs must equal
the layers' own evaluation-mode forward passes (fused=False) within float32
rounding, for every model builder, and follow every change of the weights."""
import pickle
import threading

import numpy as np
import pytest

import fastconv
from fastconv import detect, models, nn, reference
from fastconv.nn.inference import InferencePlan

BUILDERS = {
    "lenet5": lambda: models.lenet5(),
    "alexnet": lambda: models.alexnet(num_classes=10, input_size=67),
    "vgg16": lambda: models.vgg16(num_classes=10, input_size=32),
    "resnet18": lambda: models.resnet18(num_classes=10, input_size=32),
    "resnet18-cifar": lambda: models.resnet18(num_classes=10, input_size=32, small=True),
    "resnet34": lambda: models.resnet34(num_classes=10, input_size=32),
    "resnet50": lambda: models.resnet50(num_classes=10, input_size=32),
    "resnext50": lambda: models.resnext50_32x4d(num_classes=10, input_size=32),
    "mobilenet_v1": lambda: models.mobilenet_v1(num_classes=10, input_size=32),
    "small_resnet": lambda: models.small_resnet(),
    "inception": lambda: models.inception(num_classes=10, input_size=64),
    "small_inception": lambda: models.small_inception(),
    "tiny_yolo": lambda: detect.tiny_yolo(),
    "landmarks": lambda: detect.landmark_model(),
}


def randomise_batchnorm(model, seed=0):
    """Running statistics and affine parameters far from the identity, so that
    folding them is visible."""
    rng = np.random.default_rng(seed)
    for _, layer, key in model.network.named_buffers():
        a = layer.buffers[key]
        value = rng.random(a.shape) + 0.5 if key == "running_var" else 0.2 * rng.standard_normal(a.shape)
        layer.buffers[key] = value.astype(a.dtype)
    for _, layer, key in model.network.parameters():
        if key in ("gamma", "beta"):
            a = layer.params[key]
            layer.params[key] = (rng.random(a.shape) + 0.5).astype(a.dtype)


def close(got, want, rtol=2e-5):
    scale = max(float(np.abs(want).max()), 1e-30)
    np.testing.assert_allclose(got, want, rtol=0, atol=rtol * scale)


@pytest.mark.parametrize("name", BUILDERS)
def test_fused_equals_unfused_for_every_builder(name):
    model = BUILDERS[name]()
    randomise_batchnorm(model)
    x = np.random.default_rng(1).standard_normal((3,) + tuple(model.input_shape)).astype(np.float32)
    want = model.predict(x, fused=False)
    got = model.predict(x)
    assert got.shape == want.shape and got.dtype == want.dtype
    close(got, want)
    close(model.predict(x, batch_size=2), want)       # a second, smaller batch reuses the arena


def test_batchnorm_is_folded_and_activations_fused():
    model = models.resnet18(num_classes=10, input_size=32)
    plan = InferencePlan(model.network)
    steps = repr_steps(plan.root)
    convs = sum(1 for _, layer, key in model.network.parameters() if key == "W"
                and isinstance(layer, nn.Conv2D))
    assert steps.count("_Affine") == convs + 1            # every conv and the dense layer
    assert "BatchNorm2D" not in steps and "ReLU" not in steps
    assert steps.count("_Residual") == 8


def count_add_passes(monkeypatch):
    """How many separate residual-sum passes the inference path runs."""
    from fastconv.nn import inference
    calls = []
    real = inference.add_activation
    monkeypatch.setattr(inference, "add_activation", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnext50"])
def test_residual_sums_run_in_the_last_convolutions_store(name, monkeypatch):
    """No separate sum pass; the block's input is overwritten only where nothing
    reads it later, so the caller's array is never touched."""
    model = BUILDERS[name]()
    randomise_batchnorm(model)
    x = np.random.default_rng(2).standard_normal((2,) + tuple(model.input_shape)).astype(np.float32)
    x0 = x.copy()
    want = model.predict(x, fused=False)
    calls = count_add_passes(monkeypatch)
    close(model.predict(x), want)
    assert calls == [] and np.array_equal(x, x0)


def test_fused_residual_never_writes_into_a_shared_input(monkeypatch):
    """Identity shortcuts whose input is the caller's array, or a branch input
    another branch still reads: the sum runs apart (and the answer is right)."""
    def block(c):
        return nn.Residual(nn.Sequential(nn.Conv2D(c, c, 3, padding=1, activation="relu"),
                                         nn.Conv2D(c, c, 3, padding=1), nn.BatchNorm2D(c)))
    net = nn.Sequential(block(4),                                   # reads the caller's x
                        nn.Conv2D(4, 4, 1),
                        nn.Concat(block(4), nn.Conv2D(4, 3, 1)),    # x shared by two branches
                        block(7))                                   # a consumable input: fused
    model = nn.Model(net, nn.MeanSquaredError())
    randomise_batchnorm(model)
    x = np.random.default_rng(3).standard_normal((2, 9, 9, 4)).astype(np.float32)
    x0 = x.copy()
    want = model.predict(x, fused=False)
    calls = count_add_passes(monkeypatch)
    close(model.predict(x), want)
    assert len(calls) == 2 and np.array_equal(x, x0)


def test_concat_branches_write_their_channels_in_place(monkeypatch):
    """No concatenation pass: branches ending in a convolution or a pool write
    their slice of the joined output; the others (an activation layer, a
    residual block) are copied in; the answer is the unfused network's."""
    def block(c):
        return nn.Residual(nn.Sequential(nn.Conv2D(c, c, 3, padding=1, activation="relu"),
                                         nn.Conv2D(c, c, 3, padding=1)))
    net = nn.Sequential(nn.Conv2D(3, 6, 3, padding=1, activation="relu"),
                        nn.Concat(nn.Conv2D(6, 5, 1, activation="relu"),
                                  nn.Sequential(nn.Conv2D(6, 4, 1), nn.BatchNorm2D(4),
                                                nn.Conv2D(4, 7, 3, padding=1, activation="relu")),
                                  nn.MaxPool2D(3, 1, 1),
                                  nn.Sequential(nn.Conv2D(6, 3, 1), nn.Tanh()),
                                  block(6)),
                        nn.Conv2D(27, 4, 1))
    model = nn.Model(net, nn.MeanSquaredError())
    randomise_batchnorm(model)
    x = np.random.default_rng(4).standard_normal((2, 9, 9, 3)).astype(np.float32)
    want = model.predict(x, fused=False)
    joins = []
    real = np.concatenate
    monkeypatch.setattr(np, "concatenate",     # joins of channels, not predict's of batches
                        lambda *a, **k: joins.append(k.get("axis", 0)) or real(*a, **k))
    close(model.predict(x), want)
    assert all(axis == 0 for axis in joins)


def test_prepared_kernel_calls_follow_the_input_shape():
    """The steps keep one prepared call per input shape: batches and image
    sizes in any order give the unfused answers; an image with the wrong
    channel count is still refused with conv2d's reason."""
    model = models.small_resnet(num_classes=4, width=8)
    randomise_batchnorm(model)
    rng = np.random.default_rng(6)
    for shape in [(3, 32, 32, 3), (1, 20, 28, 3), (3, 32, 32, 3), (5, 20, 28, 3)]:
        x = rng.standard_normal(shape).astype(np.float32)
        close(model.predict(x), model.predict(x, fused=False))
    with pytest.raises(ValueError, match="conv2d"):
        model.predict(rng.standard_normal((1, 32, 32, 4)).astype(np.float32))


def repr_steps(step):
    """The names of the compiled steps and of the layers run unchanged, depth first."""
    names = [type(step).__name__]
    if type(step).__name__ == "_Layer":
        names.append(type(step.layer).__name__)
    children = [*getattr(step, "steps", []), *getattr(step, "branches", []),
                getattr(step, "body", None), getattr(step, "shortcut", None)]
    return " ".join(names + [repr_steps(c) for c in children if c is not None])


def test_predict_follows_training_steps_and_replaced_arrays():
    model = models.small_resnet(num_classes=4, width=8)
    randomise_batchnorm(model)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 32, 32, 3)).astype(np.float32)
    y = rng.integers(0, 4, 4)
    before = model.predict(x)
    model.train_step(x, y)          # optimizer updates in place, BatchNorm statistics replaced
    after = model.predict(x)
    assert not np.allclose(after, before)
    close(after, model.predict(x, fused=False))
    conv = next(layer for _, layer, key in model.network.parameters() if key == "W")
    conv.params["W"] = conv.params["W"] * 2          # a replaced array
    close(model.predict(x), model.predict(x, fused=False))


def test_predict_follows_in_place_optimizer_steps():
    # an evaluation-mode step keeps BatchNorm's statistics: only the optimizer's
    # in-place updates change what the folded weights depend on
    model = models.small_resnet(num_classes=4, width=8)
    randomise_batchnorm(model)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 32, 32, 3)).astype(np.float32)
    before = model.predict(x)
    model.loss.forward(model.network.forward(x, training=False), rng.integers(0, 4, 4))
    model.network.backward(model.loss.backward())
    model.optimizer.step(model.network.parameters())
    after = model.predict(x)
    assert not np.allclose(after, before)
    close(after, model.predict(x, fused=False))


def test_hand_edits_need_clear_inference_cache():
    model = models.small_resnet(num_classes=4, width=8)
    x = np.random.default_rng(3).standard_normal((2, 32, 32, 3)).astype(np.float32)
    model.predict(x)
    dense = model.network.layers[-1]
    dense.params["b"][...] += 1.0                     # written in place, by hand
    model.clear_inference_cache()
    close(model.predict(x), model.predict(x, fused=False))


def test_predict_keeps_no_layer_caches():
    model = models.small_resnet(num_classes=4, width=8)
    model.predict(np.zeros((2, 32, 32, 3), np.float32))
    cached = [type(layer).__name__ for layer in layers_of(model.network)
              if any(k in vars(layer) for k in ("_x", "_y"))]
    assert cached == []


def layers_of(layer):
    yield layer
    for child in layer.children():
        yield from layers_of(child)


def test_second_call_allocates_no_new_buffers():
    model = models.resnet18(num_classes=10, input_size=32)
    x = np.random.default_rng(4).standard_normal((4, 32, 32, 3)).astype(np.float32)
    model.predict(x)
    arena = model._inference.arena()
    held = arena.nbytes
    assert held > 0
    model.predict(x)
    assert arena.nbytes == held
    # the live set, not every layer's output: two of the largest activations
    largest = max(4 * np.prod(s) for s in activation_shapes(model, x))
    assert held <= 2 * largest, (held, largest)


def activation_shapes(model, x):
    shapes = []
    for layer in model.network.layers:
        x = layer.forward(x)
        shapes.append(x.shape)
    return shapes


def test_threads_share_a_model():
    model = models.small_resnet(num_classes=4, width=8)
    randomise_batchnorm(model)
    xs = [np.random.default_rng(s).standard_normal((3, 32, 32, 3)).astype(np.float32)
          for s in range(4)]
    want = [model.predict(x, fused=False) for x in xs]
    got = [None] * len(xs)

    def work(i):
        for _ in range(5):
            got[i] = model.predict(xs[i])
    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for g, w in zip(got, want):
        close(g, w)


def test_unknown_layers_dropout_and_standalone_layers():
    class Double(nn.Layer):
        def forward(self, x, training=False):
            return 2 * x

    net = nn.Sequential(nn.Conv2D(3, 4, 3, activation="relu"), nn.BatchNorm2D(4), Double(),
                        nn.Dropout(0.5), nn.LeakyReLU(0.2), nn.MaxPool2D(2), nn.ReLU(),
                        nn.Residual(nn.Sequential(nn.Dropout(0.1))),      # identity body
                        nn.Flatten(), nn.Dense(36, 5), nn.BatchNorm2D(5), nn.Tanh())
    model = nn.Model(net, nn.MeanSquaredError())
    randomise_batchnorm(model)
    x = np.random.default_rng(5).standard_normal((2, 8, 8, 3)).astype(np.float32)
    close(model.predict(x), model.predict(x, fused=False))
    assert model.predict(x[:0]).shape[0] == 0 or model.predict(x[:0]).size == 0


def test_float64_models_fold_in_float64():
    model = models.small_resnet(num_classes=4, width=8)
    model.network.astype(np.float64)
    randomise_batchnorm(model)
    x = np.random.default_rng(6).standard_normal((2, 32, 32, 3))
    got = model.predict(x)
    assert got.dtype == np.float64
    close(got, model.predict(x, fused=False), rtol=1e-12)


def test_pickled_model_leaves_the_plan_out():
    model = models.small_resnet(num_classes=4, width=8)
    x = np.random.default_rng(7).standard_normal((2, 32, 32, 3)).astype(np.float32)
    want = model.predict(x)
    copy = pickle.loads(pickle.dumps(model))
    assert getattr(copy, "_inference", None) is None
    np.testing.assert_array_equal(copy.predict(x), want)


@pytest.mark.parametrize("activation", [None, "relu", "leaky_relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_add_activation_matches_reference(activation, dtype):
    rng = np.random.default_rng(8)
    a = rng.standard_normal((3, 5, 7, 40000 // 105 + 1)).astype(dtype)   # > one parallel chunk
    b = rng.standard_normal(a.shape).astype(dtype)
    want = reference.add_activation(a, b, activation)
    got = fastconv.add_activation(a, b, activation)
    np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == np.float32 else 1e-12, atol=1e-6)
    out = a.copy()
    assert fastconv.add_activation(out, b, activation, out=out) is out
    np.testing.assert_array_equal(out, got)


def test_add_activation_rejects_bad_arguments():
    a = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="b has shape"):
        fastconv.add_activation(a, np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match="activation"):
        fastconv.add_activation(a, a, "swish")
    with pytest.raises(ValueError, match="out"):
        fastconv.add_activation(a, a, out=np.zeros((2, 6), np.float32)[:, ::2])
    with pytest.raises(TypeError, match="out"):
        fastconv.add_activation(a, a, out=np.zeros((2, 3), np.float64))
