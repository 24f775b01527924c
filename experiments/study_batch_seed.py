"""EZNAS-A's Kendall tau against batch size and seed (the EZNAS paper's Figures 7 and 9).

    python experiments/study_batch_seed.py --n 500 --jobs 1     # runs (resumable), then the table
    python experiments/study_batch_seed.py --table              # table + plot from the rows written

For a fixed-seed sample of NB201 architectures (CIFAR-10 200-epoch test accuracy), EZNAS-A
as the released code computes it (T1G_D, ``eznas.baselines.EZNAS_A``; one forward and
backward pass per network) is scored at batch sizes 1, 4, 16, 64, each with 5 seeds.
A seed fixes the network's initialisation and the batch: random 32x32 crops of the two
photographs bundled with scikit-learn (only 20 CIFAR images ship here, too few for batch
64, so every batch size uses the same photo source).  Per-layer values are averaged
(``eznas_a``, as EZNAS does) and summed (``eznas_a_sum``).  Rows go to
runs/study/batch_seed.csv; the table (mean and spread over seeds) to
runs/study/batch_seed.md and the plot to runs/study/batch_seed.png.
"""
import argparse
import csv
import functools
import os
import sys
import time

import numpy as np
import torch

from eznas.baselines import EZNAS_A, program_scores
from eznas.collection import sample_indices
from eznas.metrics import kendall
from eznas.rowlog import append_rows, done_archs
from eznas.spaces import nb201
from eznas.spaces.benchmarks import load_nb201_csv
from eznas.inputs import load_batch

sys.path.insert(0, os.path.dirname(__file__))
from reproduce_nb201 import NB201_CSV  # noqa: E402

OUT = os.path.join("runs", "study")
ROWS = os.path.join(OUT, "batch_seed.csv")
BATCHES = (1, 4, 16, 64)
SEEDS = (0, 1, 2, 3, 4)
PROGRAMS = {"eznas_a": (EZNAS_A, "mean"), "eznas_a_sum": (EZNAS_A, "sum")}
COLUMNS = ["arch", "batch", "seed", "index", "accuracy"] + list(PROGRAMS) + ["seconds"]


def key(arch, batch, seed):
    return f"{arch}#b{batch}#s{seed}"


def rows(items):
    """Rows for [(index, arch, accuracy, batch, seed)] (the ``arch`` column is the row key)."""
    torch.set_num_threads(1)
    batches = {}
    for i, arch, acc, b, seed in items:
        if (b, seed) not in batches:
            batches[(b, seed)] = load_batch("photos", b, 32, seed)
        t0 = time.perf_counter()
        torch.manual_seed(seed * 1_000_003 + i)
        model = nb201.build(arch, num_classes=10)
        sc = program_scores(model, batches[(b, seed)], PROGRAMS, seed=seed * 1_000_003 + i)
        yield {"arch": key(arch, b, seed), "batch": b, "seed": seed, "index": i, "accuracy": acc,
               **{k: repr(float(v)) for k, v in sc.items()}, "seconds": f"{time.perf_counter() - t0:.3f}"}


def run(n, jobs):
    gt = load_nb201_csv(NB201_CSV, "cifar10")
    done = done_archs(ROWS)
    todo = [(i, gt.archs[i], float(gt.accuracy[i]), b, s) for b in BATCHES for s in SEEDS
            for i in sample_indices(len(gt), n, 0) if key(gt.archs[i], b, s) not in done]
    append_rows(ROWS, COLUMNS, rows, todo, jobs, 25, "batch x seed")


def table(n):
    """Mean and spread over seeds of each batch size, on the ``n``-architecture sample."""
    gt = load_nb201_csv(NB201_CSV, "cifar10")
    keep = set(sample_indices(len(gt), n, 0))
    with open(ROWS, newline="") as f:
        data = [r for r in csv.DictReader(f) if int(r["index"]) in keep]
    lines = ["| proxy | batch | networks | seeds | tau mean | tau std | tau min | tau max | s per network (one core) |",
             "|---|---|---|---|---|---|---|---|---|"]
    curves = {}
    for name in PROGRAMS:
        for b in BATCHES:
            taus, n, secs = [], set(), []
            for s in SEEDS:
                r = [x for x in data if int(x["batch"]) == b and int(x["seed"]) == s]
                if len(r) < 3:
                    continue
                sc = np.array([float(x[name]) for x in r])
                ok = np.isfinite(sc)
                taus.append(kendall(sc[ok], np.array([float(x["accuracy"]) for x in r])[ok]))
                n.add(len(r))
                secs += [float(x["seconds"]) for x in r]
            if taus:
                curves.setdefault(name, []).append((b, np.mean(taus), np.std(taus)))
                lines.append(f"| {name} | {b} | {'/'.join(map(str, sorted(n)))} | {len(taus)} | {np.mean(taus):.3f} | "
                             f"{np.std(taus):.3f} | {min(taus):.3f} | {max(taus):.3f} | {np.mean(secs):.3f} |")
    text = "\n".join(lines)
    with open(os.path.join(OUT, "batch_seed.md"), "w") as f:
        f.write(text + "\n")
    print(text)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4))
    for name, pts in curves.items():
        b, m, s = map(np.array, zip(*pts))
        ax.errorbar(b, m, yerr=s, marker="o", capsize=3, label=f"{name} (mean +- std over seeds)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("batch size")
    ax.set_ylabel("Kendall tau, NB201 CIFAR-10")
    ax.set_title("EZNAS-A (released, T1G_D) vs batch size", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(OUT, "batch_seed.png"), dpi=100)
    print(f"plot: {os.path.join(OUT, 'batch_seed.png')}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=500, help="architectures (fixed sample, seed 0)")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--table", action="store_true", help="only print the table from the rows written")
    a = p.parse_args()
    if not os.path.exists(NB201_CSV):
        sys.exit(f"error: NAS-Bench-201 ground truth not found at {NB201_CSV}")
    if not a.table:
        run(a.n, a.jobs)
    table(a.n)


if __name__ == "__main__":
    main()
