"""fastconv.dask on a LocalCluster of two worker processes over loopback:
convolution and pooling with halos, predict, synchronous data-parallel fit and
the workers' thread shares, each result compared with the one-process result.
Every wait has a deadline."""
import pickle

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import fastconv                                           # noqa: E402
import fastconv.dask as fd                                # noqa: E402
from fastconv import models, nn                           # noqa: E402
from fastconv.dask import workers                         # noqa: E402
from helpers import run_with_deadline                     # noqa: E402

DEADLINE = 60


@pytest.fixture(scope="module")
def client():
    def start():
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=":0",
                                           silence_logs=40)
        client = distributed.Client(cluster, timeout=DEADLINE)
        # both workers registered before any test looks at them (a worker
        # joining after configure_workers would be left unconfigured)
        client.wait_for_workers(2, timeout=DEADLINE)
        return cluster, client
    cluster, client = run_with_deadline(start, DEADLINE, "starting the LocalCluster")
    yield client
    client.close(timeout=DEADLINE)
    cluster.close(timeout=DEADLINE)


def on_cluster(client, arr):
    return client.compute(arr).result(timeout=DEADLINE)


def test_conv_and_pooling_with_halos_across_processes(client, rng):
    x = rng.standard_normal((4, 29, 31, 6)).astype(np.float32)
    w = rng.standard_normal((3, 3, 6, 8)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    xd = da.from_array(x, chunks=(2, 8, 9, 6))                # chunks smaller than the image
    y = fd.conv2d(xd, w, b, padding="same", stride=2, activation="relu")
    want = fastconv.conv2d(x, w, b, padding="same", stride=2, activation="relu")
    np.testing.assert_array_equal(on_cluster(client, y), want)
    np.testing.assert_array_equal(on_cluster(client, fd.max_pool2d(y, 3, 2, 1)),
                                  fastconv.max_pool2d(want, 3, 2, 1))
    np.testing.assert_array_equal(on_cluster(client, fd.avg_pool2d(xd, 2)),
                                  fastconv.avg_pool2d(x, 2))


def test_workers_share_their_machine(client):
    shares = fd.configure_workers(client)
    info = workers.worker_info(client)
    cores = client.run(workers.usable_cores)
    state = f"shares {shares}, workers {sorted(info)}, cores {cores}"
    assert sorted(shares) == sorted(info), state
    for addr, n in shares.items():
        on_host = sum(r["nthreads"] for r in info.values() if r["host"] == info[addr]["host"])
        assert n == max(1, cores[addr] // on_host), state

    def seen(block):
        with workers.use_task_threads():
            return np.full(block.shape, fastconv.get_num_threads())
    got = on_cluster(client, da.zeros((8,), chunks=1).map_blocks(seen, dtype=float))
    assert set(got) <= set(shares.values()), f"tasks saw {sorted(set(got))}; {state}"
    # fastconv's threads x the workers' threads never exceed the cores
    assert max(got) * sum(r["nthreads"] for r in info.values()) <= max(max(cores.values()), 2), \
        f"tasks saw {sorted(set(got))}; {state}"


@pytest.mark.parametrize("batch_size", [5, None])
def test_predict_over_batch_chunks(client, batch_size, rng):
    # 4 MB of weights against 20 kB blocks: blocks must not all go where the model is
    model = nn.Model(nn.Sequential(nn.Conv2D(1, 3, 3, padding=1), nn.Flatten(),
                                   nn.Dense(32 * 32 * 3, 320, "relu"), nn.Dense(320, 5)),
                     nn.SoftmaxCrossEntropy())
    x = rng.random((23, 32, 32, 1)).astype(np.float32)
    y = fd.predict(model, x, batch_size=batch_size)
    assert y.shape == (23, 5) and y.npartitions > 1
    size = batch_size or y.chunks[0][0]
    with distributed.get_task_stream(client) as tasks:
        got = on_cluster(client, y)
    np.testing.assert_array_equal(got, model.predict(x, batch_size=size))
    # the model is on every worker before the blocks are placed, so both work
    ran = {t["worker"] for t in tasks.data if "predict_block" in str(t["key"])}
    assert len(ran) == 2, tasks.data


def test_predict_sends_an_unchanged_model_once(client, rng):
    from fastconv.dask import inference
    model = models.lenet5(num_classes=3)
    x = rng.random((6, 32, 32, 1)).astype(np.float32)
    first = on_cluster(client, fd.predict(model, x, batch_size=3))
    sent = inference._sent[client.id][1]
    model.predict(x)                                   # caches do not count as a change
    on_cluster(client, fd.predict(model, x, batch_size=2))
    assert inference._sent[client.id][1] is sent
    model.network.layers[-1].params["b"] += 1.0        # a changed weight is sent again
    again = on_cluster(client, fd.predict(model, x, batch_size=3))
    assert inference._sent[client.id][1] is not sent
    np.testing.assert_allclose(again, first + 1.0, rtol=1e-6)


def test_predict_a_dask_array_chunked_by_the_data(client, rng):
    model = models.small_resnet(num_classes=4, in_channels=1, width=8)
    x = rng.random((10, 32, 32, 1)).astype(np.float32)
    y = fd.predict(model, da.from_array(x, chunks=(4, 16, 32, 1)))     # image chunks joined
    assert y.chunks[0] == (4, 4, 2)
    np.testing.assert_array_equal(on_cluster(client, y), np.concatenate(
        [model.predict(x[i:i + 4]) for i in range(0, 10, 4)]))


def small_net(batchnorm=False):
    nn.seed(3)
    layers = [nn.Conv2D(1, 4, 3, padding=1, activation="relu")]
    layers += [nn.BatchNorm2D(4)] if batchnorm else []
    layers += [nn.MaxPool2D(2), nn.Conv2D(4, 6, 3, padding=1, activation="tanh"),
               nn.AvgPool2D(2), nn.Flatten(), nn.Dense(2 * 2 * 6, 3)]
    return nn.Sequential(*layers)


def fit_on_cluster(model, client, *args, **kw):
    return run_with_deadline(lambda: fd.fit(model, *args, client=client, **kw), DEADLINE,
                             "fastconv.dask.fit")


@pytest.mark.parametrize("optimizer", [lambda: nn.SGD(0.1, momentum=0.9), lambda: nn.Adam(1e-2)],
                         ids=["sgd", "adam"])
def test_fit_equals_model_fit_on_the_same_global_batches(client, optimizer, rng):
    local = nn.Model(small_net(), nn.SoftmaxCrossEntropy(), optimizer())
    remote = pickle.loads(pickle.dumps(local))
    x = rng.random((30, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 3, 30)
    # 7 per batch: shards of 4 and 3, and a last batch of 2 (1 + 1)
    want = local.fit(x, y, epochs=2, batch_size=7, verbose=False, seed=5)
    got = fit_on_cluster(remote, client, x, y, epochs=2, batch_size=7, seed=5)
    assert got.keys() == want.keys() and len(got["loss"]) == 2
    np.testing.assert_allclose(got["loss"], want["loss"], rtol=1e-5)
    np.testing.assert_allclose(got["accuracy"], want["accuracy"])
    for (path, a, key), (_, b, _) in zip(local.network.parameters(),
                                         remote.network.parameters()):
        scale = max(1.0, float(np.abs(a.params[key]).max()))
        np.testing.assert_allclose(b.params[key], a.params[key], rtol=0, atol=1e-5 * scale,
                                   err_msg=path)
    np.testing.assert_allclose(remote.predict(x), local.predict(x), rtol=0, atol=1e-4)


def test_fit_with_batchnorm_uses_per_worker_statistics(client, rng):
    model = nn.Model(small_net(batchnorm=True), nn.SoftmaxCrossEntropy(), nn.SGD(0.1))
    start = pickle.loads(pickle.dumps(model))
    x = rng.random((8, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 3, 8)
    fit_on_cluster(model, client, x, y, epochs=1, batch_size=8, shuffle=False)
    # one step: the running statistics are those of the first worker's shard
    probe = pickle.loads(pickle.dumps(start))
    bn = probe.network.layers[1]
    probe.network.forward(x[:4], training=True)
    trained_bn = model.network.layers[1]
    for key in ("running_mean", "running_var"):
        np.testing.assert_allclose(trained_bn.buffers[key], bn.buffers[key], rtol=1e-6)
    # and the update is the mean of the shards' gradients, each shard normalised by itself
    grads = []
    for shard in (slice(0, 4), slice(4, 8)):
        replica = pickle.loads(pickle.dumps(start))
        pred = replica.network.forward(x[shard], training=True)
        replica.loss.forward(pred, y[shard])
        replica.network.backward(replica.loss.backward())
        grads.append({p: layer.grads[k] for p, layer, k in replica.network.parameters()})
    before = pickle.loads(pickle.dumps(start)).network.parameters()
    for (path, layer, key), (_, first, _) in zip(model.network.parameters(), before):
        step = (grads[0][path].astype(np.float64) + grads[1][path]) / 2
        np.testing.assert_allclose(layer.params[key], first.params[key] - 0.1 * step,
                                   rtol=0, atol=1e-6, err_msg=path)


def test_fit_checks_its_arguments(client):
    model = nn.Model(small_net(), nn.SoftmaxCrossEntropy())
    x, y = np.zeros((4, 8, 8, 1), np.float32), np.zeros(4, int)
    with pytest.raises(TypeError, match="fastconv.dask.fit: client must be a dask.distributed"):
        fd.fit(model, x, y, client=None)
    with pytest.raises(TypeError, match="model must be a fastconv.nn.Model"):
        fd.fit(object(), x, y, client=client)
    with pytest.raises(ValueError, match="x has 4 samples but y has 3"):
        fd.fit(model, x, y[:3], client=client)
    with pytest.raises(ValueError, match="batch_size"):
        fd.fit(model, x, y, client=client, batch_size=0)
    with pytest.raises(TypeError, match="predict: model must be a fastconv.nn.Model"):
        fd.predict(object(), x)


def test_threads_of_in_process_workers_share_one_model(rng):
    # workers in this process, two threads each: tasks running at once on the same
    # model object must not share its per-call caches
    def start():
        return distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=False,
                                        dashboard_address=":0", silence_logs=40)
    cluster = run_with_deadline(start, DEADLINE, "starting an in-process cluster")
    try:
        with distributed.Client(cluster, timeout=DEADLINE) as inproc:
            local = nn.Model(small_net(), nn.SoftmaxCrossEntropy(), nn.Adam(1e-2))
            remote = pickle.loads(pickle.dumps(local))
            x = rng.random((40, 8, 8, 1)).astype(np.float32)
            y = rng.integers(0, 3, 40)
            got = on_cluster(inproc, fd.predict(local, x, batch_size=3))
            np.testing.assert_array_equal(got, local.predict(x, batch_size=3))
            want = local.fit(x, y, epochs=1, batch_size=10, verbose=False)
            hist = fit_on_cluster(remote, inproc, x, y, epochs=1, batch_size=10)
            np.testing.assert_allclose(hist["loss"], want["loss"], rtol=1e-5)
            np.testing.assert_allclose(remote.predict(x), local.predict(x), rtol=0, atol=1e-4)
    finally:
        cluster.close(timeout=DEADLINE)
