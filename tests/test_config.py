"""set_num_threads / get_num_threads / show_config / release_workspace."""
import numpy as np

import fastconv
from helpers import threads


def test_set_and_get_threads():
    with threads(1):
        assert fastconv.get_num_threads() == 1
    if fastconv.show_config("dicts")["openmp"]:
        with threads(3):
            assert fastconv.get_num_threads() == 3


def test_show_config(capsys):
    info = fastconv.show_config("dicts")
    assert info["kernels"] in info["supported_kernels"]
    assert info["threads"] >= 1
    assert fastconv.show_config() is None
    text = capsys.readouterr().out
    assert "kernels:" in text and "threads:" in text and "compiler:" in text
    assert "caches:" in text and f"L1d {info['caches']['l1d'] // 1024} KiB" in text
    assert info["kernels"] in text


def test_show_config_has_what_a_bug_report_needs(capsys):
    info = fastconv.show_config("dicts")
    fastconv.show_config()
    text = capsys.readouterr().out
    for label in ("cpu:", "features:", "openmp:", "cflags:"):
        assert label in text, label
    assert "-std=c11" in info["cflags"] and info["cflags"] in text
    assert " ".join(info["cpu_features"]) in text
    # The features are what the kernel dispatcher sees: a kernel set the CPU runs
    # implies its features.
    needs = {"avx2": {"avx2", "fma"}, "avx512": {"avx512f", "avx512dq", "avx512bw", "avx512vl"}}
    for isa in info["supported_kernels"]:
        assert needs.get(isa, set()) <= set(info["cpu_features"]), (isa, info["cpu_features"])
    if info["openmp"]:
        assert "-fopenmp" in info["cflags"]
        assert "omp" in info["openmp_runtime"].rsplit("runtime", 1)[1], info["openmp_runtime"]
    else:
        assert info["openmp_runtime"].startswith("off")


def test_freed_workspace_is_kept_for_reuse_and_released_on_request():
    """A call's large workspace blocks are kept for the next call (up to 64
    MiB), not counted as in use, and release_workspace() frees them."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 20, 20, 256), dtype=np.float32)
    w = rng.standard_normal((3, 3, 256, 256), dtype=np.float32)
    fastconv.release_workspace()
    first, used = fastconv._config.peak_workspace(fastconv.conv2d, x, w, padding=1,
                                                 algorithm="winograd")
    assert used >= 2**20 and 2**20 <= fastconv.show_config("dicts")["workspace_kept"] <= 64 * 2**20
    again, used_again = fastconv._config.peak_workspace(fastconv.conv2d, x, w, padding=1,
                                                       algorithm="winograd")
    np.testing.assert_array_equal(first, again)
    assert used_again == used   # reused blocks count as the bytes asked for
    # (threads racing for the kept blocks may leave a different set behind)
    info = fastconv.show_config("dicts")
    assert 2**20 <= info["workspace_kept"] <= 64 * 2**20
    assert fastconv.release_workspace() == info["workspace_kept"] + info["array_blocks_kept"]
    assert fastconv.show_config("dicts")["workspace_kept"] == 0
    assert fastconv.release_workspace() == 0


def test_kept_array_blocks_reuse_freed_memory():
    """Arrays made inside kept_array_blocks() use fastconv's handler (64-byte
    aligned); a freed large one's block serves the next array of its size,
    zeroed where NumPy asks for zeros and copied where it grows an array;
    arrays made outside, or after, use NumPy's own; release_workspace() frees
    the kept blocks."""
    core = np._core if hasattr(np, "_core") else np.core   # NumPy 2 / 1.x
    handler_of = core.multiarray.get_handler_name
    default = handler_of()
    fastconv.release_workspace()
    with fastconv.kept_array_blocks():
        assert handler_of() == "fastconv_kept_blocks"
        a = np.full((512, 300), 7.0)                    # 1.2 MB
        assert handler_of(a) == "fastconv_kept_blocks" and a.ctypes.data % 64 == 0
        address = a.ctypes.data
        del a
        assert fastconv.show_config("dicts")["array_blocks_kept"] >= 512 * 300 * 8
        z = np.zeros((512, 300))                        # calloc: the reused block, zeroed
        assert z.ctypes.data == address and not z.any()
        small = np.arange(10.0)                         # below 128 KiB: not kept, still fine
        assert handler_of(small) == "fastconv_kept_blocks"
        z[:] = 3.0
        z.resize((600, 300), refcheck=False)            # realloc: the values carried over
        assert (z[:512] == 3.0).all()
    assert handler_of() == default and handler_of(np.ones(10**6)) == default
    del z
    assert fastconv.release_workspace() >= 512 * 300 * 8
    assert fastconv.show_config("dicts")["array_blocks_kept"] == 0
