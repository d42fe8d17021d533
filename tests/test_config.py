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
