"""Hypothesis: random valid geometries agree with the reference."""
import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

import fastconv
from fastconv import reference as ref
from helpers import assert_close, assert_conv_backward_close, distinct_nchw


@st.composite
def conv_problems(draw):
    groups = draw(st.integers(1, 3))
    c = groups * draw(st.integers(1, 4))
    k = groups * draw(st.integers(1, 4))
    r, s = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dil = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    pad_choice = draw(st.sampled_from(["same", "valid", "int", "asym"]))
    if pad_choice == "int":
        padding = (draw(st.integers(0, 4)), draw(st.integers(0, 4)))
    elif pad_choice == "asym":
        padding = tuple((draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(2))
    else:
        padding = pad_choice
    # an input at least as large as the dilated kernel
    h = draw(st.integers(dil[0] * (r - 1) + 1, 14))
    w = draw(st.integers(dil[1] * (s - 1) + 1, 14))
    n = draw(st.integers(0, 3))
    layout = draw(st.sampled_from(["NHWC", "NCHW"]))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**31))
    return dict(n=n, h=h, w=w, c=c, k=k, r=r, s=s, groups=groups, stride=stride,
                dilation=dil, padding=padding, layout=layout, dtype=dtype, seed=seed)


@given(conv_problems())
def test_conv_forward_and_backward(p):
    assume(p["layout"] == "NHWC" or distinct_nchw((p["n"], p["h"], p["w"], p["c"])))
    rng = np.random.default_rng(p["seed"])
    x = rng.standard_normal((p["n"], p["h"], p["w"], p["c"])).astype(p["dtype"])
    w = rng.standard_normal((p["r"], p["s"], p["c"] // p["groups"], p["k"])).astype(p["dtype"])
    if p["layout"] == "NCHW":
        x, w = x.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1)   # non-contiguous views
    kw = dict(stride=p["stride"], padding=p["padding"], dilation=p["dilation"],
              groups=p["groups"], layout=p["layout"])
    y = fastconv.conv2d(x, w, **kw)
    mag = np.max(ref.conv2d(np.abs(x), np.abs(w), **kw), initial=0)
    assert_close(y, ref.conv2d(x, w, **kw), mag)
    dy = rng.standard_normal(y.shape).astype(p["dtype"])
    assert_conv_backward_close(fastconv.conv2d_backward(dy, x, w, **kw), dy, x, w, **kw)


@st.composite
def pool_problems(draw):
    size = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 4), st.integers(1, 4))))
    pad = draw(st.sampled_from(["same", "valid", "int"]))
    padding = (draw(st.integers(0, size[0] - 1)), draw(st.integers(0, size[1] - 1))) \
        if pad == "int" else pad
    h, w = draw(st.integers(size[0], 12)), draw(st.integers(size[1], 12))
    return dict(size=size, stride=stride, padding=padding, shape=(draw(st.integers(0, 3)), h, w,
                draw(st.integers(1, 9))), layout=draw(st.sampled_from(["NHWC", "NCHW"])),
                kind=draw(st.sampled_from(["max", "avg"])), seed=draw(st.integers(0, 2**31)))


@given(pool_problems())
def test_pool_forward_and_backward(p):
    assume(p["layout"] == "NHWC" or distinct_nchw(p["shape"]))
    rng = np.random.default_rng(p["seed"])
    x = rng.standard_normal(p["shape"])
    if p["layout"] == "NCHW":
        x = x.transpose(0, 3, 1, 2)
    kw = dict(size=p["size"], stride=p["stride"], padding=p["padding"], layout=p["layout"])
    fwd, bwd = p["kind"] + "_pool2d", p["kind"] + "_pool2d_backward"
    y = getattr(fastconv, fwd)(x, **kw)
    assert_close(y, getattr(ref, fwd)(x, **kw), 1.0)
    dy = rng.standard_normal(y.shape)
    assert_close(getattr(fastconv, bwd)(dy, x, **kw), getattr(ref, bwd)(dy, x, **kw), 16.0)


@st.composite
def stride1_problems(draw):
    """Geometries the "direct", "winograd" and "inplace" algorithms take (stride 1, no
    dilation, one group, padding smaller than the kernel), with channel counts
    that cover their channel chunks and tile edges."""
    algorithm = draw(st.sampled_from(["direct", "winograd", "inplace"]))
    r, s = (3, 3) if algorithm == "winograd" else (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    padding = ((draw(st.integers(0, r - 1)), draw(st.integers(0, r - 1))),
               (draw(st.integers(0, s - 1)), draw(st.integers(0, s - 1))))
    return dict(algorithm=algorithm, r=r, s=s, padding=padding,
                n=draw(st.integers(1, 3)), h=draw(st.integers(r, 13)), w=draw(st.integers(s, 13)),
                c=draw(st.integers(1, 20)), k=draw(st.integers(1, 20)),
                layout="NHWC" if algorithm == "winograd" else draw(st.sampled_from(["NHWC", "NCHW"])),
                dtype=draw(st.sampled_from([np.float32, np.float64])),
                seed=draw(st.integers(0, 2**31)))


@given(stride1_problems())
def test_stride1_algorithms(p):
    assume(p["layout"] == "NHWC" or distinct_nchw((p["n"], p["h"], p["w"], p["c"])))
    rng = np.random.default_rng(p["seed"])
    x = rng.standard_normal((p["n"], p["h"], p["w"], p["c"])).astype(p["dtype"])
    w = rng.standard_normal((p["r"], p["s"], p["c"], p["k"])).astype(p["dtype"])
    b = rng.standard_normal(p["k"]).astype(p["dtype"])
    if p["layout"] == "NCHW":
        x, w = x.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1)
    kw = dict(padding=p["padding"], layout=p["layout"])
    y = fastconv.conv2d(x, w, b, activation="relu", algorithm=p["algorithm"], **kw)
    mag = np.max(ref.conv2d(np.abs(x), np.abs(w), np.abs(b), **kw), initial=0)
    assert_close(y, ref.conv2d(x, w, b, activation="relu", **kw), mag)
    dy = rng.standard_normal(y.shape).astype(p["dtype"])
    got = fastconv.conv2d_backward(dy, x, w, algorithm=p["algorithm"], **kw)
    assert_conv_backward_close(got, dy, x, w, **kw)
