"""What ``eznas nas`` writes: the best-so-far CSV, the markdown table and the plot."""
import csv
import io
import os

import numpy as np

from eznas.evolve.rundir import atomic_write


def write_csv(result, out):
    """One row per (variant, seed, query): the network trained, its accuracy and the best
    accuracy so far."""
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "best_so_far.csv")
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(["variant", "proxy", "seed", "query", "arch", "accuracy", "best"])
    seeds = range(result.settings.first_seed, result.settings.first_seed + result.settings.seeds)
    for c in result.curves:
        for seed, hist, best in zip(seeds, c.histories, c.best):
            for q in range(result.settings.queries):
                i = hist[q] if q < len(hist) else None
                arch = "" if i is None else str(result.archs[i])
                acc = "" if i is None else f"{result.accuracy[i]:.4f}"
                w.writerow([c.label, c.proxy, seed, q + 1, arch, acc, f"{best[q]:.4f}"])
    atomic_write(path, buf.getvalue())
    return path


def write_markdown(result, out, target=None):
    path = os.path.join(out, "nas.md")
    text = "\n".join([f"# Architecture search on {result.space}/{result.dataset}", "", result.about, "",
                      "Mean ± standard deviation over seeds of the best test accuracy among the networks trained "
                      "so far; a proxy evaluation is one network built and scored (seconds measured on this "
                      "machine, cached scores included at their measured cost).", "",
                      result.table(target), ""])
    atomic_write(path, text)
    return path


STYLE = {"random search": ("0.55", ":"), "aging evolution": ("k", "-")}  # variants without a proxy
LINES = {"ae+warmup": "-", "ae+move": "--", "ae+warmup+move": "-."}  # proxy variants; colour = proxy


def plot(result, out, target=None):
    """Mean best-so-far against queries (log scale), with the band between the 25th and
    75th percentiles over seeds; colour = proxy, line style = variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = os.path.join(out, "best_so_far.png")
    q = np.arange(1, result.settings.queries + 1)
    proxies = list(dict.fromkeys(c.label.partition("(")[2] for c in result.curves if "(" in c.label))
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for c in result.curves:
        variant, _, proxy = c.label.partition("(")
        color, ls = STYLE.get(c.label) or (f"C{proxies.index(proxy) % 10}", LINES.get(variant, "-"))
        ax.plot(q, c.best.mean(0), label=c.label, color=color, ls=ls, lw=1.6)
        lo, hi = np.percentile(c.best, [25, 75], axis=0)
        ax.fill_between(q, lo, hi, color=color, alpha=0.07, lw=0)
    if target is not None:
        ax.axhline(target, color="r", ls=":", lw=1, label=f"target {target:g}")
    ax.set_xscale("log")
    ax.set_xlabel("networks trained (queries)")
    ax.set_ylabel("best test accuracy so far (%)")
    low = min(float(np.percentile(c.best.mean(0), 5)) for c in result.curves)
    ax.set_ylim(low, result.best_in_table + 0.05)
    ax.set_title(f"{result.space}/{result.dataset}: mean over {result.settings.seeds} seeds "
                 "(bands: 25th-75th percentile)", fontsize=9)
    ax.legend(fontsize=7, loc="lower right", ncol=2)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
