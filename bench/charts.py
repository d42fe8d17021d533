"""Charts and tables of measured benchmark results (bench/results/measured.json,
written by bench/record.py), for the documentation and for a quick look.

    python bench/charts.py [--results bench/results/measured.json] [--out DIR]

writes conv-forward.png and gemm-float32.png into DIR (default: the current
folder) and prints the tables in Markdown.  Nothing is timed here.
"""
import argparse
import io
import json
import os

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "measured.json")
SUITES = {
    "conv_forward": ("convolution forward, NHWC float32", "reference_ms", "NumPy reference"),
    "gemm_float32": ("float32 matrix multiply", "numpy_ms", "numpy.matmul"),
}


def load(path=RESULTS):
    with open(path) as f:
        return json.load(f)


def label(result):
    """Where and when the numbers were measured, in one line."""
    m = result["machine"]
    return (f"measured {m['date']} on {m['cpu']} ({m['cores']} cores, {m['kernels']} kernels, "
            f"{m['compiler']}), fastconv {m['fastconv']} at {m['commit'] or 'an unknown commit'}, "
            f"NumPy {m['numpy']}")


def table(result, suite):
    """A Markdown table of one suite: per case and thread count, the times and ratio."""
    _, other_key, other_name = SUITES[suite]
    lines = [f"| case | threads | fastconv ms | {other_name} ms | speed-up | fastconv GFLOP/s |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in result[suite]:
        lines.append(f"| {row['case']} | {row['threads']} | {row['fastconv_ms']:.3f} | "
                     f"{row[other_key]:.3f} | {row[other_key] / row['fastconv_ms']:.1f}x | "
                     f"{row['gflops']:.1f} |")
    return "\n".join(lines)


def chart(result, suite):
    """A PNG (bytes) of the suite's speed-ups over the other library, 1 and 2 threads."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    title, other_key, other_name = SUITES[suite]
    rows = result[suite]
    cases = list(dict.fromkeys(row["case"] for row in rows))
    threads = sorted({row["threads"] for row in rows})
    fig, ax = plt.subplots(figsize=(9, 3.8))
    width = 0.8 / len(threads)
    for i, t in enumerate(threads):
        speedup = {row["case"]: row[other_key] / row["fastconv_ms"]
                   for row in rows if row["threads"] == t}
        ax.bar(np.arange(len(cases)) + (i - (len(threads) - 1) / 2) * width,
               [speedup[c] for c in cases], width, label=f"{t} thread{'s' if t > 1 else ''}")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(np.arange(len(cases)), cases, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(f"speed-up over {other_name}")
    ax.set_title(f"fastconv, {title}", fontsize=10)
    ax.legend(fontsize=8)
    fig.text(0.01, 0.01, label(result), fontsize=6, color="dimgray")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def chart_name(suite):
    return suite.replace("_", "-") + ".png"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=RESULTS)
    parser.add_argument("--out", default=".")
    args = parser.parse_args(argv)
    result = load(args.results)
    print(label(result))
    for suite in SUITES:
        path = os.path.join(args.out, chart_name(suite))
        with open(path, "wb") as f:
            f.write(chart(result, suite))
        print(f"\n{table(result, suite)}\n\nwrote {path}")


if __name__ == "__main__":
    main()
