"""MkDocs hooks: the figures of the guide pages come from running their examples
(examples.py) at build time, and the benchmarks page's tables and charts from
the committed measurements (bench/charts.py).  A failing example fails the build."""
import importlib.util
import os
import re

from mkdocs.structure.files import File

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_MARK = re.compile(r"<!-- bench:(table|chart|label):(\w+) -->")


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


examples = _load("fastconv_docs_examples", os.path.join(HERE, "examples.py"))
charts = _load("fastconv_bench_charts", os.path.join(HERE, "..", "bench", "charts.py"))


def on_config(config):
    import fastconv
    config.extra["version"] = fastconv.__version__
    return config


def on_files(files, config):
    for page in examples.pages():
        with open(os.path.join(examples.PAGES, page)) as f:
            if not examples.blocks(f.read()):
                continue
        figures, _ = examples.run_page(page)
        folder = os.path.dirname(page)
        for name, content in figures.items():
            files.append(File.generated(config, f"{folder}/{name}".lstrip("/"), content=content))
    result = charts.load()
    for suite in charts.SUITES:
        files.append(File.generated(config, charts.chart_name(suite),
                                    content=charts.chart(result, suite)))
    return files


def on_page_markdown(markdown, page, config, files):
    if not BENCH_MARK.search(markdown):
        return markdown
    result = charts.load()

    def replace(match):
        kind, suite = match.groups()
        if kind == "label":
            return charts.label(result)
        if kind == "table":
            return charts.table(result, suite)
        return f"![{charts.SUITES[suite][0]}]({charts.chart_name(suite)})"
    return BENCH_MARK.sub(replace, markdown)
