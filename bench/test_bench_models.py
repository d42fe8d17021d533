"""Whole networks: inference of the classic CNNs at 224x224 (and the tiny YOLO
detector at 64x64), and one training step (forward, loss, backward, optimizer)
of the small networks: fastconv.nn against the same network in PyTorch eager
(channels_last) and, for inference, ONNX Runtime; 1 and 2 threads.

The PyTorch and ONNX networks are built from the fastconv model itself, with
its weights (model_mirror.py), and their first output is checked against
fastconv's before timing.  fastconv's inference is Model.predict (the compiled
inference path: BatchNorm folded, activations fused, a buffer arena).  Each
entry also records its peak memory during one call in extra_info["peak_MiB"]:
for fastconv the NumPy arrays allocated in the call (tracemalloc) plus the
kernels' workspace (the counting allocator) plus the activation arena the
inference path keeps between calls, for PyTorch its CPU allocator's bytes in
use (the profiler's memory events); weights (and fastconv's folded copies) are
not counted, and ONNX Runtime's arena is not measured.

Run:  pytest bench/test_bench_models.py --benchmark-only   (PyTorch: pip install
torch==2.13.0; ONNX Runtime: pip install ".[ort]"; each is skipped without it)
"""
import functools
import tracemalloc

import numpy as np
import pytest

from fastconv import detect, models
from fastconv._config import peak_workspace
from conftest import need_ort, need_torch, run
import model_mirror

# id, builder, keyword arguments, batch, input (H = W, C)
INFERENCE = [
    ("resnet18-b1", "resnet18", {}, 1, (224, 3)),
    ("resnet18-b8", "resnet18", {}, 8, (224, 3)),
    ("resnet50-b8", "resnet50", {}, 8, (224, 3)),
    ("vgg16-b1", "vgg16", {}, 1, (224, 3)),
    ("mobilenetv1-b8", "mobilenet_v1", {}, 8, (224, 3)),
    ("resnext50-b8", "resnext50_32x4d", {}, 8, (224, 3)),
    ("googlenet-b8", "inception", {}, 8, (224, 3)),
    ("tinyyolo-b8", "tiny_yolo", {}, 8, (64, 3)),
]
TRAINING = [
    ("lenet5-b64", "lenet5", dict(num_classes=10), 64, (32, 1)),
    ("resnet18cifar-b32", "resnet18", dict(num_classes=10, input_size=32, small=True), 32,
     (32, 3)),
    ("smallinception-b32", "small_inception", dict(num_classes=10), 32, (32, 3)),
    ("tinyyolo-b32", "tiny_yolo", {}, 32, (64, 3)),
]


@functools.lru_cache(maxsize=2)
def build(builder, kwargs_items):
    """The fastconv model (cached: VGG-16 takes seconds to initialise)."""
    make = detect.tiny_yolo if builder == "tiny_yolo" else getattr(models, builder)
    return make(**dict(kwargs_items))


def inputs(batch, size, channels, seed=0):
    return np.random.default_rng(seed).standard_normal((batch, size, size, channels),
                                                       dtype=np.float32)


def targets(model, builder, batch, rng):
    """Labels, or for the detector a YOLO target grid with one object per image."""
    if builder != "tiny_yolo":
        return rng.integers(0, 10, batch)
    loss = model.loss
    s = model.network.output_shape(model.input_shape)[0]
    t = np.zeros((batch, s, s, loss.num_anchors, 5 + loss.num_classes), np.float32)
    for i in range(batch):
        r, c, a, k = rng.integers(0, s), rng.integers(0, s), rng.integers(0, loss.num_anchors), \
            rng.integers(0, loss.num_classes)
        t[i, r, c, a, :5] = (1, 0.5, 0.5, 0.3, 0.3)
        t[i, r, c, a, 5 + k] = 1
    return t


def torch_yolo_loss(torch, loss, logits, target):
    """fastconv.detect.YoloLoss on NCHW logits, in PyTorch."""
    z = logits.permute(0, 2, 3, 1).reshape(target.shape)
    obj = target[..., :1]
    w_ce = torch.cat([obj + loss.lambda_noobj * (1 - obj),
                      obj.expand_as(target[..., 5:])], dim=-1)
    z_ce = torch.cat([z[..., :1], z[..., 5:]], dim=-1)
    t_ce = torch.cat([target[..., :1], target[..., 5:]], dim=-1)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(z_ce, t_ce, w_ce, reduction="sum")
    box = loss.lambda_coord * obj * (torch.sigmoid(z[..., 1:5]) - target[..., 1:5]) ** 2
    return (ce + box.sum()) / len(z)


def fastconv_peak(fn):
    """Peak bytes of one call: NumPy arrays (tracemalloc) + kernel workspace."""
    tracemalloc.start()
    try:
        _, workspace = peak_workspace(fn)
        _, arrays = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return arrays + workspace


def torch_peak(torch, fn):
    """Peak bytes in use in PyTorch's CPU allocator during one call, from the
    profiler's memory events (allocations positive, frees negative)."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == "[memory]")
    in_use = peak = 0
    for _, nbytes in events:
        in_use += nbytes
        peak = max(peak, in_use)
    return peak


def record_peak(benchmark, nbytes):
    benchmark.extra_info["peak_MiB"] = round(nbytes / 2**20, 1)


def torch_mirror(model, train):
    torch = need_torch()
    net = model_mirror.to_torch(model.network).to(memory_format=torch.channels_last)
    net.train(train)
    return torch, net


@pytest.mark.parametrize("impl", ["fastconv", "torch", "ort"])
@pytest.mark.parametrize("case", INFERENCE, ids=[c[0] for c in INFERENCE])
def test_inference(benchmark, case, impl, threads):
    name, builder, kwargs, batch, (size, channels) = case
    benchmark.group = f"model-infer {name} {threads}t"
    model = build(builder, tuple(sorted(kwargs.items())))
    x = inputs(batch, size, channels)
    if impl == "fastconv":
        fn = functools.partial(model.predict, x, batch_size=batch)   # the inference path
        fn()                     # compiles the plan (BatchNorm folded) and fills its arena
        record_peak(benchmark, fastconv_peak(fn) + model._inference.arena().nbytes)
        run(benchmark, impl, fn)
        return
    want = model.network.forward(x[:1])
    x_nchw = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    if impl == "ort":
        need_ort()
        session = model_mirror.to_onnx_session(model.network, list(x_nchw.shape), threads)
        fn = functools.partial(session.run, None, {"x": x_nchw})
        model_mirror.check_agreement(fn()[0][:1], want, "ONNX Runtime")
        run(benchmark, impl, fn)
        return
    torch, net = torch_mirror(model, train=False)
    xt = torch.from_numpy(x).permute(0, 3, 1, 2)

    def fn():
        with torch.no_grad():
            return net(xt)
    model_mirror.check_agreement(fn()[:1].numpy(), want, "PyTorch")
    record_peak(benchmark, torch_peak(torch, fn))
    run(benchmark, impl, fn)


@pytest.mark.parametrize("impl", ["fastconv", "torch"])
@pytest.mark.parametrize("case", TRAINING, ids=[c[0] for c in TRAINING])
def test_training_step(benchmark, case, impl, threads):
    name, builder, kwargs, batch, (size, channels) = case
    benchmark.group = f"model-train {name} {threads}t"
    model = build(builder, tuple(sorted(kwargs.items())))   # the step changes its weights:
    x = inputs(batch, size, channels)                        # the same work whatever they are
    y = targets(model, builder, batch, np.random.default_rng(1))
    if impl == "fastconv":
        fn = functools.partial(model.train_step, x, y)
        record_peak(benchmark, fastconv_peak(fn))
        run(benchmark, impl, fn)
        return
    torch, net = torch_mirror(model, train=True)
    opt = torch.optim.Adam(net.parameters(), lr=model.optimizer.learning_rate)
    xt = torch.from_numpy(x).permute(0, 3, 1, 2)
    yt = torch.from_numpy(y)
    if builder == "tiny_yolo":
        loss_fn = functools.partial(torch_yolo_loss, torch, model.loss)
    else:
        loss_fn = torch.nn.functional.cross_entropy

    def step():
        opt.zero_grad()
        loss = loss_fn(net(xt), yt)
        loss.backward()
        opt.step()
        return loss
    record_peak(benchmark, torch_peak(torch, step))
    run(benchmark, impl, step)
