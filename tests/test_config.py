"""set_num_threads / get_num_threads / show_config."""
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
