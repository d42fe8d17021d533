"""One training step (forward + backward + SGD update) of LeNet-5 at batch 64
and of a small ResNet at batch 32 on 32x32 inputs: fastconv.nn against the same
network in PyTorch eager (channels_last), 1 and 2 threads."""
import numpy as np
import pytest

from fastconv import models, nn
from conftest import need_torch, run

CASES = [("lenet5", 64, 1), ("small_resnet", 32, 3)]


def fastconv_model(name, channels):
    model = getattr(models, name)(num_classes=10, in_channels=channels)
    model.optimizer = nn.SGD(learning_rate=0.01, momentum=0.9)
    return model


def torch_model(name, channels):
    torch = need_torch()
    tnn = torch.nn
    if name == "lenet5":
        return tnn.Sequential(tnn.Conv2d(channels, 6, 5), tnn.ReLU(), tnn.MaxPool2d(2),
                              tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
                              tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(),
                              tnn.Linear(84, 10))

    class Block(tnn.Module):
        def __init__(self, c_in, c_out, stride):
            super().__init__()
            self.body = tnn.Sequential(
                tnn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), tnn.BatchNorm2d(c_out),
                tnn.ReLU(), tnn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), tnn.BatchNorm2d(c_out))
            self.short = None if stride == 1 and c_in == c_out else tnn.Sequential(
                tnn.Conv2d(c_in, c_out, 1, stride, bias=False), tnn.BatchNorm2d(c_out))

        def forward(self, x):
            return torch.relu(self.body(x) + (x if self.short is None else self.short(x)))

    layers, c = [tnn.Conv2d(channels, 16, 3, 1, 1, bias=False), tnn.BatchNorm2d(16), tnn.ReLU()], 16
    for stage in range(3):
        for i in range(2):
            layers.append(Block(c, 16 * 2 ** stage, 2 if stage and not i else 1))
            c = 16 * 2 ** stage
    layers += [tnn.AdaptiveAvgPool2d(1), tnn.Flatten(), tnn.Linear(c, 10)]
    return tnn.Sequential(*layers)


@pytest.mark.parametrize("impl", ["fastconv", "torch"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_train_step(benchmark, case, impl, threads):
    name, batch, channels = case
    benchmark.group = f"train-step {name} b{batch} {threads}t"
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 32, 32, channels)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    if impl == "fastconv":
        model = fastconv_model(name, channels)
        run(benchmark, impl, lambda: model.train_step(x, y))
        return
    torch = need_torch()
    net = torch_model(name, channels).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    xt = torch.from_numpy(x).permute(0, 3, 1, 2)
    yt = torch.from_numpy(y)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(xt), yt)
        loss.backward()
        opt.step()
        return loss
    run(benchmark, impl, step)
