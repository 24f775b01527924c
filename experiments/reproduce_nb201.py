"""NAS-Bench-201 proxy table (the paper's Tables 1 and 3): every baseline and EZNAS-A on a
fixed-seed sample of architectures (all 15,625 with --n 15625), per dataset, with the
reference Kendall tau of NASLib's proxies (NAS-Bench-Suite-Zero, ../shared) on the same
architectures beside ours.

    python experiments/reproduce_nb201.py --dataset cifar10 --n 200 --jobs 2
    python experiments/reproduce_nb201.py --dataset cifar10 --n 15625 --family eznas_a --jobs 2
    python experiments/reproduce_nb201.py --table        # markdown of all finished datasets

Each network is built once and scored by every proxy of the family (default: all); rows are
appended to runs/reproduce/nb201_<dataset>[_<family>].csv as they come (chunk by chunk with --jobs),
so the script resumes.  ``--jobs`` spreads chunks of 25 over processes (one torch thread each).  Data: the 20
shared CIFAR images (batch 16) where present, else crops of the bundled photographs.
"""
import argparse
import csv
import functools
import os
import sys
import time

import numpy as np
import torch

from eznas.discovered import DISCOVERED  # noqa: E402
from eznas.baselines import BASELINES, EZNAS_A, EZNAS_A_PAPER, program_scores
from eznas.collection import sample_indices
from eznas.metrics import kendall, spearman
from eznas.rowlog import append_rows, done_archs
from eznas.score import labels_for
from eznas.spaces.benchmarks import NUM_CLASSES, load_nb201_csv
from eznas.spaces import nb201
from eznas.spaces.sources import input_shape
from eznas.inputs import load_batch

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared")
NB201_CSV = os.path.join(SHARED, "benchmarks", "nb201", "nb201_test_accuracy.csv")
REF = {"cifar10": "zc_proxies_cifar10.csv", "imagenet16-120": "zc_proxies_imagenet16-120.csv"}
# our name -> NASLib's column
NASLIB = {"params": "params", "flops": "flops", "synflow": "synflow", "snip": "snip", "grasp": "grasp",
          "fisher": "fisher", "grad_norm": "grad_norm", "jacob_cov": "jacov", "naswot": "nwot"}
OUT = os.path.join("runs", "reproduce")
PROXIES = [n for n in BASELINES if n not in DISCOVERED]  # the paper's and hand-designed ones
# families sized so that each scores all of NB201 in under an hour on 2 cores (batch 16)
# program proxies computed together from one collection of statistics per network
JOINT = {"eznas_a": (EZNAS_A, "mean"), "eznas_a_sum": (EZNAS_A, "sum"), "eznas_a_paper": (EZNAS_A_PAPER, "mean")}
# published Kendall tau of EZNAS-A: the paper's Table 1 / 3, and the official repository's table
# (all 15,625 architectures, batch 16 of real CIFAR images)
PUBLISHED = {"cifar10": ("0.65", "0.6195"), "cifar100": ("0.65", "0.6169"), "imagenet16-120": ("0.61", "-")}
FAMILIES = {"all": PROXIES, "eznas_a": list(JOINT), "size": ["params", "flops"],
            "saliency": ["synflow", "snip", "fisher", "grad_norm"], "grasp": ["grasp"],
            "activation": ["jacob_cov", "naswot"]}
CHUNK = 25


def data_source(dataset):
    folder = os.path.join(SHARED, "images", dataset)
    return f"folder:{folder}" if os.path.isdir(folder) else "photos"


def data_for(dataset, batch):
    src, size = data_source(dataset), input_shape("nb201", dataset)[1]
    return load_batch(src, batch, size, 0), labels_for(src, batch, NUM_CLASSES[dataset], 0)


def out_path(dataset, family):
    return os.path.join(OUT, f"nb201_{dataset}.csv" if family == "all" else f"nb201_{dataset}_{family}.csv")


def score_rows(dataset, batch, proxies, seed, items):
    """Rows for [(index, arch, accuracy)], single-threaded (the seconds column is one core's)."""
    torch.set_num_threads(1)
    x, y = data_for(dataset, batch)
    for i, arch, acc in items:
        t0 = time.perf_counter()
        row = {"arch": arch, "accuracy": acc}
        joint = {p: JOINT[p] for p in proxies if p in JOINT}
        if joint:
            torch.manual_seed(seed * 1_000_003 + i)
            model = nb201.build(arch, num_classes=NUM_CLASSES[dataset])
            row.update({k: repr(float(v)) for k, v in program_scores(model, x, joint, seed=seed * 1_000_003 + i).items()})
        for name in proxies:
            if name in joint:
                continue
            torch.manual_seed(seed * 1_000_003 + i)
            model = nb201.build(arch, num_classes=NUM_CLASSES[dataset])
            try:
                row[name] = repr(float(BASELINES[name](model, x, y)))
            except Exception as e:  # a proxy failing on one network is recorded, not fatal
                print(f"{name} failed on {arch}: {e}", file=sys.stderr)
                row[name] = "nan"
        row["seconds"] = f"{time.perf_counter() - t0:.3f}"
        yield row


def run(dataset, n, batch, family="all", jobs=1, seed=0):
    gt = load_nb201_csv(NB201_CSV, dataset)
    proxies = FAMILIES[family]
    path = out_path(dataset, family)
    done = done_archs(path)
    todo = [(i, gt.archs[i], float(gt.accuracy[i])) for i in sample_indices(len(gt), n, seed) if gt.archs[i] not in done]
    t0 = time.perf_counter()
    append_rows(path, ["arch", "accuracy"] + proxies + ["seconds"], functools.partial(score_rows, dataset, batch, proxies, seed),
                todo, jobs, CHUNK, f"nb201 {dataset} {family}")
    wall = time.perf_counter() - t0
    if todo:
        print(f"{dataset} {family}: {len(todo)} architectures in {wall:.0f} s with {jobs} job(s) "
              f"= {len(todo) / wall:.2f}/s; all 15,625 would take {15625 / len(todo) * wall / 3600:.2f} h")
    print(f"{dataset}: data {data_source(dataset)}, batch {batch}; {path}")


def reference(dataset):
    name = REF.get(dataset)
    p = os.path.join(SHARED, "benchmarks", "nb201", name) if name else None
    if not p or not os.path.exists(p):
        return {}
    rows = list(csv.DictReader(open(p)))
    if "net_str" not in rows[0]:  # the ImageNet file has only NASLib op tuples
        ops = ["skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3"]
        for r in rows:
            e = [ops[int(t)] for t in r["net"].strip("()").split(",")]
            r["net_str"] = f"|{e[0]}~0|+|{e[1]}~0|{e[3]}~1|+|{e[2]}~0|{e[4]}~1|{e[5]}~2|"
    return {r["net_str"]: r for r in rows}


def full_reference_taus(dataset, ref):
    """Kendall tau of each NASLib reference proxy against NB201 accuracy on every
    architecture of the reference file (the published NAS-Bench-Suite-Zero scores)."""
    if not ref:
        return {}
    gt = load_nb201_csv(NB201_CSV, dataset)
    acc = dict(zip(gt.archs, gt.accuracy))
    archs = [a for a in ref if a in acc]
    out = {"n": len(archs)}
    for col in NASLIB.values():
        out[col] = kendall([float(ref[a][col]) for a in archs], [acc[a] for a in archs])
    return out


def results(dataset):
    """proxy -> (rows) from the result file of ``dataset`` that has the most rows for it."""
    best = {}
    for family in FAMILIES:
        path = out_path(dataset, family)
        if not os.path.exists(path):
            continue
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        for name in FAMILIES[family]:
            if rows and name in rows[0] and len(rows) > len(best.get(name, [])):
                best[name] = rows
    return best


def table():
    lines = []
    for dataset in ("cifar10", "cifar100", "imagenet16-120"):
        best = results(dataset)
        if not best:
            continue
        ref = reference(dataset)
        full = full_reference_taus(dataset, ref)
        lines += [f"\n### NAS-Bench-201 {dataset}", "",
                  "| proxy | archs | Kendall tau (ours) | Spearman rho (ours) | NASLib tau, same archs | archs with NASLib ref "
                  f"| rank corr. ours vs NASLib | NASLib tau, all {full['n'] if full else '-'} archs of its file | s per arch (file's proxies, one core) "
                  "| published EZNAS-A tau (paper / repository, batch 16) |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for name in PROXIES:
            if name not in best:
                continue
            rows = best[name]
            s = np.array([float(r[name]) for r in rows])
            a = np.array([float(r["accuracy"]) for r in rows])
            ok = np.isfinite(s)
            cells = [str(len(rows)), f"{kendall(s[ok], a[ok]):.3f}", f"{spearman(s[ok], a[ok]):.3f}"]
            col = NASLIB.get(name)
            both = [r for r, k in zip(rows, ok) if k and r["arch"] in ref] if col else []
            if col and len(both) > 2:
                theirs = [float(ref[r["arch"]][col]) for r in both]
                ours = [float(r[name]) for r in both]
                cells += [f"{kendall(theirs, [float(r['accuracy']) for r in both]):.3f}", str(len(both)),
                          f"{kendall(ours, theirs):.3f}"]
            else:
                cells += ["-", "0", "-"]
            cells.append(f"{full[col]:.3f}" if col in full else "-")
            cells.append(f"{np.mean([float(r['seconds']) for r in rows]):.3f}")
            cells.append(" / ".join(PUBLISHED[dataset]) if name == "eznas_a" else "-")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "nb201_table.md"), "w") as f:
        f.write(text + "\n")
    print(text)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", choices=["cifar10", "cifar100", "imagenet16-120"])
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--family", choices=list(FAMILIES), default="all", help="which proxies (default all)")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--table", action="store_true")
    a = p.parse_args()
    if not os.path.exists(NB201_CSV):
        sys.exit(f"error: NAS-Bench-201 ground truth not found at {NB201_CSV}")
    if a.dataset:
        run(a.dataset, a.n, a.batch, a.family, a.jobs)
    if a.table or not a.dataset:
        table()


if __name__ == "__main__":
    main()
