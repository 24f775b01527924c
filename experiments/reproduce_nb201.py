"""NAS-Bench-201 proxy table (the paper's Tables 1 and 3): every baseline and EZNAS-A on a
fixed-seed sample of architectures (all 15,625 with --n 15625), per dataset, with the
reference Kendall tau of NASLib's proxies (NAS-Bench-Suite-Zero, ../shared) on the same
architectures beside ours.

    python experiments/reproduce_nb201.py --dataset cifar10 --n 200
    python experiments/reproduce_nb201.py --table        # markdown of all finished datasets

Each network is built once and scored by every proxy; rows are appended to
runs/reproduce/nb201_<dataset>.csv as they come, so the script resumes.  Data: the 20
shared CIFAR images (batch 16) where present, else crops of the bundled photographs.
"""
import argparse
import csv
import os
import sys
import time

import numpy as np
import torch
from tqdm import tqdm

from eznas.baselines import BASELINES
from eznas.collect import sample_indices
from eznas.metrics import kendall, spearman
from eznas.rowlog import appending, done_archs
from eznas.score import labels_for
from eznas.spaces.benchmarks import NUM_CLASSES, load_nb201_csv
from eznas.spaces.sources import input_shape
from stats_cache.data import load_batch

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared")
NB201_CSV = os.path.join(SHARED, "benchmarks", "nb201", "nb201_test_accuracy.csv")
REF = {"cifar10": "zc_proxies_cifar10.csv", "imagenet16-120": "zc_proxies_imagenet16-120.csv"}
# our name -> NASLib's column
NASLIB = {"params": "params", "flops": "flops", "synflow": "synflow", "snip": "snip", "grasp": "grasp",
          "fisher": "fisher", "grad_norm": "grad_norm", "jacob_cov": "jacov", "naswot": "nwot"}
OUT = os.path.join("runs", "reproduce")
PROXIES = list(BASELINES)


def data_for(dataset, batch):
    folder = os.path.join(SHARED, "images", dataset)
    size = input_shape("nb201", dataset)[1]
    src = f"folder:{folder}" if os.path.isdir(folder) else "photos"
    return src, load_batch(src, batch, size, 0), labels_for(src, batch, NUM_CLASSES[dataset], 0)


def run(dataset, n, batch, seed=0):
    gt = load_nb201_csv(NB201_CSV, dataset)
    path = os.path.join(OUT, f"nb201_{dataset}.csv")
    done = done_archs(path)
    src, x, y = data_for(dataset, batch)
    with appending(path, ["arch", "accuracy"] + PROXIES + ["seconds"]) as write:
        todo = [i for i in sample_indices(len(gt), n, seed) if gt.archs[i] not in done]
        for i in tqdm(todo, desc=f"nb201 {dataset}", unit="net"):
            t0 = time.perf_counter()
            row = {"arch": gt.archs[i], "accuracy": gt.accuracy[i]}
            for name in PROXIES:
                torch.manual_seed(seed * 1_000_003 + i)
                model = gt.build(gt.archs[i])
                try:
                    row[name] = repr(float(BASELINES[name](model, x, y)))
                except Exception as e:  # a proxy failing on one network is recorded, not fatal
                    print(f"{name} failed on {gt.archs[i]}: {e}", file=sys.stderr)
                    row[name] = "nan"
            row["seconds"] = f"{time.perf_counter() - t0:.2f}"
            write(row)
    print(f"{dataset}: data {src}, batch {batch}; {path}")


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


def table():
    lines = []
    for dataset in ("cifar10", "cifar100", "imagenet16-120"):
        path = os.path.join(OUT, f"nb201_{dataset}.csv")
        if not os.path.exists(path):
            continue
        rows = list(csv.DictReader(open(path)))
        ref = reference(dataset)
        lines += [f"\n### NAS-Bench-201 {dataset}: {len(rows)} architectures "
                  f"(mean {np.mean([float(r['seconds']) for r in rows]):.1f} s per architecture for all proxies)", "",
                  "| proxy | Kendall tau (ours) | Spearman rho (ours) | NASLib tau, same archs | archs with NASLib ref | rank corr. ours vs NASLib |",
                  "|---|---|---|---|---|---|"]
        for name in PROXIES:
            s = np.array([float(r[name]) for r in rows])
            a = np.array([float(r["accuracy"]) for r in rows])
            ok = np.isfinite(s)
            cells = [f"{kendall(s[ok], a[ok]):.3f}", f"{spearman(s[ok], a[ok]):.3f}"]
            col = NASLIB.get(name)
            both = [r for r, k in zip(rows, ok) if k and r["arch"] in ref] if col else []
            if col and len(both) > 2:
                theirs = [float(ref[r["arch"]][col]) for r in both]
                ours = [float(r[name]) for r in both]
                cells += [f"{kendall(theirs, [float(r['accuracy']) for r in both]):.3f}", str(len(both)),
                          f"{kendall(ours, theirs):.3f}"]
            else:
                cells += ["-", "0", "-"]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    with open(os.path.join(OUT, "nb201_table.md"), "w") as f:
        f.write(text + "\n")
    print(text)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", choices=["cifar10", "cifar100", "imagenet16-120"])
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--table", action="store_true")
    a = p.parse_args()
    if not os.path.exists(NB201_CSV):
        sys.exit(f"error: NAS-Bench-201 ground truth not found at {NB201_CSV}")
    if a.dataset:
        run(a.dataset, a.n, a.batch)
    if a.table or not a.dataset:
        table()


if __name__ == "__main__":
    main()
