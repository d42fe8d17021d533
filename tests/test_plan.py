"""The convolution plan (fastconv.conv2d_plan): which algorithm and variant
runs each pass, for a table of shapes, and that conv2d runs what it says."""
import numpy as np
import pytest

import fastconv
from fastconv import _config
from helpers import threads

LANES = {p: ("depthwise", "lanes") for p in ("forward", "dx", "dw")}

# (x shape, w shape, keyword arguments, {pass: (algorithm, variant)}), NHWC float32
PLAN_TABLE = {
    "lenet5-c1": ((32, 32, 32, 1), (5, 5, 1, 6), {},
                  {"forward": ("direct", "none"), "dx": ("direct", "flipped"),
                   "dw": ("direct", "none")}),
    "resnet-3x3": ((8, 56, 56, 64), (3, 3, 64, 64), {"padding": 1},
                   {"forward": ("winograd", "none"), "dx": ("winograd", "flipped"),
                    "dw": ("winograd", "none")}),
    "vgg-c2": ((1, 112, 112, 128), (3, 3, 128, 128), {"padding": 1},
               {"forward": ("winograd", "none"), "dx": ("winograd", "flipped"),
                "dw": ("winograd", "none")}),
    "resnet-1x1": ((8, 56, 56, 256), (1, 1, 256, 64), {},
                   {"forward": ("gemm", "pointwise"), "dx": ("gemm", "pointwise"),
                    "dw": ("gemm", "dy_t_col")}),
    "resnet-down": ((8, 56, 56, 256), (1, 1, 256, 512), {"stride": 2},
                    {"forward": ("gemm", "im2col"), "dx": ("gemm", "col2im"),
                     "dw": ("gemm", "dy_t_col")}),
    # Winograd from 32 4x4 output tiles: 8 images of 7x7 yes, one of 14x14 not
    # (dw by Winograd from 8 tiles); from 16 on CPUs whose GEMM runs at half
    # rate, but not for 512 x 512 channels: test_winograd_from_16_tiles_at_half_rate
    "resnet-layer4-b8": ((8, 7, 7, 512), (3, 3, 512, 512), {"padding": 1},
                         {"forward": ("winograd", "none"), "dx": ("winograd", "flipped"),
                          "dw": ("winograd", "none")}),
    "vgg-conv5-b1": ((1, 14, 14, 512), (3, 3, 512, 512), {"padding": 1},
                     {"forward": ("gemm", "im2col"), "dx": ("gemm", "dcol"),
                      "dw": ("winograd", "none")}),
    "yolo-3x3": ((1, 13, 13, 512), (3, 3, 512, 1024), {"padding": 1},
                 {"forward": ("gemm", "im2col"), "dx": ("gemm", "dcol"),
                  "dw": ("winograd", "none")}),
    "depthwise": ((8, 56, 56, 64), (3, 3, 1, 64), {"padding": 1, "groups": 64},
                  {"forward": ("depthwise", "none"), "dx": ("depthwise", "none"),
                   "dw": ("depthwise", "none")}),
    "depthwise-s2-m2": ((1, 113, 113, 32), (3, 3, 1, 64), {"padding": 1, "stride": 2, "groups": 32},
                        {"forward": ("depthwise", "none"), "dx": ("depthwise", "none"),
                         "dw": ("depthwise", "none")}),
    # the "lanes" kernels need vector permutes; the portable kernel set has none
    "resnext-grouped": ((8, 56, 56, 128), (3, 3, 4, 128), {"padding": 1, "groups": 32},
                        LANES if _config.active_isa() != "generic" else
                        {"forward": ("direct", "none"), "dx": ("direct", "flipped"),
                         "dw": ("depthwise", "grouped")}),
    "resnext-grouped-s2": ((8, 56, 56, 256), (3, 3, 8, 256), {"padding": 1, "stride": 2, "groups": 32},
                           LANES if _config.active_isa() != "generic" else
                           {"forward": ("gemm", "im2col"), "dx": ("depthwise", "grouped"),
                            "dw": ("depthwise", "grouped")}),
    "grouped-m2-s2": ((8, 28, 28, 64), (3, 3, 2, 128), {"padding": 1, "stride": 2, "groups": 32},
                      {"forward": ("depthwise", "grouped"), "dx": ("depthwise", "grouped"),
                       "dw": ("depthwise", "grouped")}),
    "wide-groups": ((8, 14, 14, 512), (3, 3, 16, 512), {"padding": 1, "groups": 32},
                    LANES if _config.active_isa() != "generic" else
                    {"forward": ("gemm", "im2col"), "dx": ("gemm", "flipped"),
                     "dw": ("gemm", "dy_t_col")}),
    "dilated": ((2, 33, 33, 64), (3, 3, 64, 64), {"padding": 2, "dilation": 2},
                {"forward": ("gemm", "im2col"), "dx": ("gemm", "dcol"),
                 "dw": ("gemm", "dy_t_col")}),
    # 32 channels: direct where its tile spans several vectors of pixels
    # (AVX-512); AVX2's one-vector tile loses the forward pass to the GEMM
    "inception-5x5": ((8, 28, 28, 16), (5, 5, 16, 32), {"padding": 2},
                      {"forward": ("direct" if _config.active_isa() != "avx2" else "gemm",
                                   "none" if _config.active_isa() != "avx2" else "rows"),
                       "dx": ("direct", "flipped"), "dw": ("gemm", "dy_t_col")}),
    # 7x7 rows are too narrow for the direct kernels' lanes (four dropped columns
    # a row at 5x5): the GEMM, forward, and dx of the 14x14 layer's 32 channels;
    # to at most 8 channels direct still wins
    "inception-5x5-7x7": ((8, 7, 7, 128), (5, 5, 128, 32), {"padding": 2},
                          {"forward": ("gemm", "im2col"), "dx": ("gemm", "dcol"),
                           "dw": ("gemm", "dy_t_col")}),
    "inception-5x5-dx-14x14": ((8, 14, 14, 32), (5, 5, 32, 128), {"padding": 2},
                               # 14-pixel rows fill two tiles of 6 rows (AVX2) or more of 4
                               # (portable): the rows variant; not two of AVX-512's 12
                               {"forward": ("gemm", "im2col" if _config.active_isa() == "avx512"
                                            else "rows"), "dx": ("gemm", "dcol"),
                                "dw": ("gemm", "dy_t_col")}),
    "narrow-to-8": ((8, 7, 7, 64), (3, 3, 64, 8), {"padding": 1},
                    {"forward": ("direct", "none"), "dx": ("gemm", "dcol"),
                     "dw": ("direct", "none")}),
}


def observed(plan):
    return {p: (v["algorithm"], v["variant"]) for p, v in plan.items()}


@pytest.mark.parametrize("name", PLAN_TABLE)
def test_plan_table(name):
    x_shape, w_shape, kw, expected = PLAN_TABLE[name]
    plan = fastconv.conv2d_plan(x_shape, w_shape, **kw)
    assert observed(plan) == expected, plan
    for p in plan.values():
        assert p["reason"].startswith("auto: "), p
        assert _config.active_isa() in p["micro_kernel"], p


def test_plan_reasons_name_the_obstacle():
    plan = fastconv.conv2d_plan((8, 7, 7, 1024), (3, 3, 32, 1024), padding=1, groups=32)
    assert "groups > 1" in plan["dw"]["reason"]
    reason = plan["dw"]["reason"]   # 32 per group: the lanes kernels (but generic) lose
    assert any(why in reason for why in ("at most 8 input channels per group",
                                         "up to 16 channels per group", "no vector permutes"))
    plan = fastconv.conv2d_plan((2, 33, 33, 64), (3, 3, 64, 64), padding=2, dilation=2)
    assert "dilation > 1" in plan["forward"]["reason"]


@pytest.mark.parametrize("algorithm, x_shape, w_shape, kw, pass_, words", [
    ("winograd", (2, 9, 9, 4), (5, 5, 4, 8), {}, "forward", "needs a 3x3 kernel"),
    ("direct", (2, 9, 9, 4), (3, 3, 4, 8), {"stride": 2}, "forward", "stride > 1"),
    ("direct", (2, 9, 9, 4), (3, 3, 2, 8), {"groups": 2}, "dw", "groups > 1"),
    ("direct", (2, 9, 9, 4), (3, 3, 4, 8), {"padding": 3}, "dx", "padding smaller than the kernel"),
    ("inplace", (2, 9, 9, 4), (3, 3, 4, 8), {"dilation": 2}, "dw", "dilation > 1"),
    ("depthwise", (2, 9, 9, 18), (3, 3, 9, 8), {"groups": 2}, "forward", "at most 8 input channels"),
])
def test_forced_algorithm_that_does_not_apply(algorithm, x_shape, w_shape, kw, pass_, words):
    plan = fastconv.conv2d_plan(x_shape, w_shape, algorithm=algorithm, **kw)
    assert plan[pass_]["algorithm"] is None
    assert plan[pass_]["reason"] == f"'{algorithm}' does not apply: " + plan[pass_]["reason"].split(": ", 1)[1]
    assert words in plan[pass_]["reason"]
    # the call raises with the plan's words
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    if pass_ == "forward":
        with pytest.raises(ValueError, match=words):
            fastconv.conv2d(x, w, algorithm=algorithm, **kw)
    else:
        dy = np.ones_like(fastconv.conv2d(x, w, **kw))
        with pytest.raises(ValueError, match=f"{words}.*the {pass_} pass"):
            fastconv.conv2d_backward(dy, x, w, algorithm=algorithm, **kw)


def test_winograd_on_channels_first_tensors():
    """A channels-first layer runs Winograd on NHWC copies of a few images at
    a time, forward and backward, until one image's copies pass 16 MiB."""
    for algorithm in ("winograd", "auto"):
        plan = fastconv.conv2d_plan((2, 64, 30, 30), (64, 64, 3, 3), padding=1, layout="NCHW",
                                    algorithm=algorithm)
        assert set(observed(plan).values()) == {("winograd", "nhwc_chunks")}, plan
        assert "copies of 2 image(s)" in plan["dx"]["reason"], plan
    # 224x224x64: the forward copies (in and out, 25.7 MB) and the backward
    # ones (x, dy and dx, 38.5 MB) are past 16 MiB: the tensors as they are
    plan = fastconv.conv2d_plan((1, 64, 224, 224), (64, 64, 3, 3), padding=1, layout="NCHW")
    assert observed(plan)["forward"] == ("gemm", "nchw"), plan
    assert "nhwc_chunks" not in (plan["dx"]["variant"], plan["dw"]["variant"]), plan
    plan = fastconv.conv2d_plan((1, 64, 224, 224), (64, 64, 3, 3), padding=1, layout="NCHW",
                                algorithm="winograd")
    for p in ("dx", "dw"):
        assert plan[p]["algorithm"] is None
        assert "unit channel strides" in plan[p]["reason"]


def test_plan_follows_dtype_and_unbatched_input():
    plan = fastconv.conv2d_plan((56, 56, 64), (3, 3, 64, 64), padding=1, dtype=np.float64)
    assert plan["forward"]["micro_kernel"].startswith("f64 gemm")
    # one large image: the direct kernels share its tiles among threads (forward,
    # dx); their dw shares out images, so one image's dw goes to the rows GEMM
    # (3 input channels: its kernel-row GEMM beats the in-place one)
    plan = fastconv.conv2d_plan((200, 208, 3), (3, 3, 3, 8), padding=1)
    assert observed(plan) == {"forward": ("direct", "none"), "dx": ("direct", "flipped"),
                              "dw": ("gemm", "rows")}, plan
    # with 16 output channels the stem's forward pass is the rows GEMM
    plan = fastconv.conv2d_plan((200, 208, 3), (3, 3, 3, 16), padding=1)
    assert observed(plan)["forward"] == ("gemm", "rows"), plan
    # one small image: its padded rows would mostly waste the lanes
    plan = fastconv.conv2d_plan((32, 32, 1), (5, 5, 1, 6))
    assert plan["forward"]["algorithm"] == "gemm", plan


def test_plan_does_not_depend_on_threads():
    plans = []
    for n in (1, 2):
        with threads(n):
            plans.append([fastconv.conv2d_plan(x, w, **kw) for x, w, kw, _ in PLAN_TABLE.values()])
    assert plans[0] == plans[1]


@pytest.mark.parametrize("args, kw, error, words", [
    (((2, 9, 9, 4), (3, 3, 5, 8)), {}, ValueError, "x has 4 channels but w expects 5"),
    (((2, 9, 9, 4), (3, 3, 4, 8)), {"dtype": np.int32}, TypeError, "dtype must be float32 or float64"),
    (((2, 9, 9, 4), (3, 3, 4, 8)), {"algorithm": "fft"}, ValueError, "algorithm must be one of"),
    (((2, 9, "a", 4), (3, 3, 4, 8)), {}, TypeError, "x_shape must be a tuple of ints"),
    (((2, 9, 9, 4), (3, 3, 4, -8)), {}, ValueError, "w_shape has a negative size"),
    (((2, 9, 9, 4), (3, 3, 4, 8)), {"stride": 0}, ValueError, "stride"),
])
def test_plan_bad_input(args, kw, error, words):
    with pytest.raises(error, match=words):
        fastconv.conv2d_plan(*args, **kw)


def test_bad_arrays_are_named_by_shape_not_printed():
    """An array where a shape or an integer belongs: the message says what it
    is (type, shape, dtype) in one line, not its repr of thousands of values."""
    x = np.zeros((8, 56, 56, 64), np.float32)
    with pytest.raises(TypeError, match=r"an array's \.shape.*ndarray of shape \(8, 56, 56, 64\) "
                                        r"and dtype float32") as err:
        fastconv.conv2d_plan(x, (3, 3, 64, 64))
    assert len(str(err.value)) < 200
    with pytest.raises((TypeError, ValueError), match=r"stride.*ndarray of shape \(3, 3\)") as err:
        fastconv.conv2d(x[:1, :8, :8], np.zeros((3, 3, 64, 8), np.float32), stride=np.ones((3, 3)))
    assert len(str(err.value)) < 200
    with pytest.raises(TypeError, match=r"stride must be an integer, got .*2\.5"):   # a scalar: its value
        fastconv.conv2d(x[:1, :8, :8], np.zeros((3, 3, 64, 8), np.float32), stride=np.float64(2.5))


def test_lanes_kernels_keep_their_workspace_cap():
    """A row too wide for the lanes kernels' padded input rows (8 MiB per
    thread) goes to the GEMM, and asking for them says why."""
    shape, w_shape, kw = (1, 4, 5000, 1024), (7, 7, 32, 1024), dict(padding=3, groups=32)
    plan = fastconv.conv2d_plan(shape, w_shape, **kw)
    assert plan["forward"]["algorithm"] == "gemm", plan
    if _config.active_isa() != "generic":
        assert "8 MiB workspace cap" in plan["forward"]["reason"], plan
        asked = fastconv.conv2d_plan(shape, w_shape, algorithm="depthwise", **kw)["forward"]
        assert asked["algorithm"] is None and "8 MiB workspace cap" in asked["reason"], asked


def test_winograd_from_16_tiles_at_half_rate():
    """One 14x14 image (16 output tiles of 4x4) of a 3x3 layer runs by Winograd
    where the GEMM runs at half the FMA rate (512-bit FMAs on 256-bit units,
    measured at import, or kernels narrower than AVX-512) and the kernel
    transform U (36 C K values) fits in half of L3; by the GEMM elsewhere."""
    ratio = fastconv._native.fma512_ratio()
    assert ratio == fastconv.show_config("dicts")["fma512_ratio"]
    assert (ratio == 0) if "avx512" not in _config.supported_isas() else 0.5 < ratio < 3
    half_rate = _config.active_isa() != "avx512" or ratio < 1.5
    l3 = fastconv._native.cpu_caches()["l3"]
    for c, k in ((128, 128), (160, 320), (512, 512)):
        plan = fastconv.conv2d_plan((1, 14, 14, c), (3, 3, c, k), padding=1)
        want = "winograd" if half_rate and 36 * c * k * 4 <= l3 // 2 else "gemm"
        assert (plan["forward"]["algorithm"], plan["dx"]["algorithm"]) == (want, want), plan
        reason = plan["forward"]["reason"]
        assert "output tiles (at least 16)" in reason if want == "winograd" else "tiles" in reason
