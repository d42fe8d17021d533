"""The runnable examples of the documentation: every ```python block of a page,
run in order in one namespace, in a scratch folder, as a user would paste them.

Used twice: by the docs build (hooks.py), which puts the PNG files the examples
write on the page that shows them, and by tests/test_docs.py, which runs each
page as a test.  A page's examples may not reach outside the scratch folder.
"""
import contextlib
import io
import os
import re
import tempfile

PAGES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "src")
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+\.png)\)")


def pages():
    """Every Markdown page, as a path relative to the pages folder."""
    found = []
    for folder, _, files in os.walk(PAGES):
        for name in files:
            if name.endswith(".md"):
                found.append(os.path.relpath(os.path.join(folder, name), PAGES))
    return sorted(found)


def blocks(markdown):
    """The page's ```python blocks, in order."""
    return [m.group(1) for m in BLOCK.finditer(markdown)]


def images(markdown):
    """The PNG files the page shows (links relative to the page)."""
    return IMAGE.findall(markdown)


def run_page(page, workdir=None):
    """Run the page's examples in workdir (a new scratch folder by default), with
    matplotlib drawing off screen; returns {PNG name: bytes} of the figures
    written and the text the examples printed."""
    with open(os.path.join(PAGES, page)) as f:
        code = blocks(f.read())
    os.environ.setdefault("MPLBACKEND", "Agg")
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="fastconv-docs-"))
        old = os.getcwd()
        os.chdir(workdir)
        stack.callback(os.chdir, old)
        out = io.StringIO()
        namespace = {"__name__": "__docs__"}
        with contextlib.redirect_stdout(out):
            for i, source in enumerate(code):
                exec(compile(source, f"{page} (example {i + 1})", "exec"), namespace)
        try:
            import matplotlib.pyplot as plt
            plt.close("all")
        except ImportError:
            pass
        figures = {}
        for name in sorted(os.listdir(workdir)):
            if name.endswith(".png"):
                with open(os.path.join(workdir, name), "rb") as f:
                    figures[name] = f.read()
        return figures, out.getvalue()
