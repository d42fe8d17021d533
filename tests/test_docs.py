"""The documentation (docs/): every page's Python examples run, the figures its
pages show are drawn by those examples, and the API reference covers every
public name.  Running the examples needs matplotlib (the docs extra)."""
import importlib
import importlib.util
import inspect
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
pytestmark = pytest.mark.skipif(not os.path.isdir(DOCS),
                                reason="no docs/ folder beside tests/ (an installed copy)")


def _examples():
    spec = importlib.util.spec_from_file_location("fastconv_docs_examples",
                                                  os.path.join(DOCS, "examples.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


examples = _examples() if os.path.isdir(DOCS) else None
PAGES = examples.pages() if examples else []
WITH_CODE = [p for p in PAGES if examples.blocks(open(os.path.join(examples.PAGES, p)).read())]


def test_every_guide_chapter_has_examples():
    chapters = {"edge-detection", "padding-stride", "pooling", "lenet5", "resnet", "inception",
                "landmarks", "sliding-windows", "yolo"}
    assert {f"guide/{c}.md" for c in chapters} <= set(WITH_CODE)


@pytest.mark.parametrize("page", WITH_CODE)
def test_page_examples_run_and_draw_its_figures(page):
    pytest.importorskip("matplotlib", reason="the examples draw figures: pip install '.[docs]'")
    with open(os.path.join(examples.PAGES, page)) as f:
        shown = set(examples.images(f.read()))
    figures, _ = examples.run_page(page)
    assert shown <= set(figures), f"{page} shows {sorted(shown - set(figures))}, never drawn"
    for name in shown:
        assert figures[name][:8] == b"\x89PNG\r\n\x1a\n", name


def _public(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, v in vars(module).items() if not n.startswith("_")
                 and not inspect.ismodule(v)
                 and getattr(v, "__module__", module.__name__) == module.__name__]
    return {n for n in names if not inspect.ismodule(getattr(module, n))}


@pytest.mark.parametrize("module_name", ["fastconv", "fastconv.nn", "fastconv.models",
                                         "fastconv.detect", "fastconv.boxes", "fastconv.data",
                                         "fastconv.dask"])
def test_the_api_reference_covers_every_public_name(module_name):
    if module_name == "fastconv.dask":
        pytest.importorskip("dask")
    module = importlib.import_module(module_name)
    text = ""
    for page in PAGES:
        if page.startswith("reference/"):
            with open(os.path.join(examples.PAGES, page)) as f:
                text += f.read()
    documented = set(re.findall(r"^::: ([\w.]+)$", text, re.M))
    owners = {module_name, "fastconv.boxes"} if module_name == "fastconv.detect" else {module_name}
    missing = sorted(n for n in _public(module)
                     if not any(f"{owner}.{n}" in documented for owner in owners))
    assert not missing, f"not in docs/src/reference: {missing}"
    undocumented = sorted(n for n in _public(module) if callable(getattr(module, n))
                          and not (getattr(module, n).__doc__ or "").strip())
    assert not undocumented, f"no docstring for the reference to show: {undocumented}"


def test_nothing_points_outside_the_repository():
    for page in PAGES:
        with open(os.path.join(examples.PAGES, page)) as f:
            text = f.read()
        assert not re.search(r"\]\((https?:|/|\.\./\.\./\.\.)", text), page
        assert "shared/" not in text, page
