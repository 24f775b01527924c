"""Our hand-designed baselines on a real benchmark's own networks, beside the reference
scores that NAS-Bench-Suite-Zero computed for the same networks (../shared/benchmarks/).

    python experiments/baselines_real.py --space tnb101_macro --dataset class_object --n 500
    python experiments/baselines_real.py --space nb101 --dataset cifar10 --reference ../shared/benchmarks/nb101/nb101_500_cifar10.csv

For each baseline: Kendall tau of our score with the benchmark's accuracy, the same-named
reference proxy's tau on the same networks, and the rank agreement (Kendall tau) between
ours and theirs; then, on the shipped table's accuracies, tau among the top 10 % of networks
by accuracy and the mean accuracy of the proxy's top 1 %.  ``--exclude RUN_OR_STORE``
leaves out every network a search used (task networks of that store), so that a
discovered program (``--baselines NAME,...``: any proxy name ``eznas score`` takes) is
judged on networks it never saw, beside every baseline on the same ones.  Scores are appended to one CSV per baseline under --out (``eznas score``'s
format and resume rules), so a stopped run continues where it was.  The networks are the
first --n rows of the reference file, in its order.
"""
import argparse
import csv
import os
import sys

import numpy as np

from eznas.metrics import kendall, top_of_ranking
from eznas.rowlog import read_rows
from eznas.score import score_space
from eznas.spaces.sources import input_shape, load_ground_truth

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "benchmarks")
REFERENCE = {  # (space, dataset) -> the NAS-Bench-Suite-Zero file of reference scores
    ("tnb101_macro", "class_object"): "transnas101/macro/class_object_proxies.csv",
    ("tnb101_macro", "class_scene"): "transnas101/macro/class_scene_proxies.csv",
    ("tnb101_micro", "class_object"): "transnas101/micro/class_object_proxies.csv",
    ("tnb101_micro", "class_scene"): "transnas101/micro/class_scene_proxies.csv",
    ("nb101", "cifar10"): "nb101/nb101_500_cifar10.csv",
}
# our baseline -> the reference column of the same proxy (None: no reference)
OURS = {"params": "params", "flops": "flops", "synflow": "synflow", "naswot": "nwot", "jacob_cov": "jacov",
        "snip": "snip", "grad_norm": "grad_norm", "fisher": "fisher", "eznas_a": None, "eznas_a_sum": None}
KERNEL_BASED = ("naswot", "jacob_cov")  # need a batch of several inputs


def _tau(x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > -1e7)  # NAS-Bench-Suite-Zero writes -1e8 where theirs failed
    return (kendall(x[ok], y[ok]), int(ok.sum())) if ok.sum() >= 3 and np.ptp(x[ok]) > 0 else (float("nan"), int(ok.sum()))


def reference_rows(path, n, space):
    """The first ``n`` rows of the reference file; a column left blank there is filled from
    the same-named column of the task's file of all networks beside it (TransNAS-Bench-101's
    ``<task>.csv``: synflow, fisher, zen, epe_nas for every network), matched by ``arch``."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))[:n]
    full = path.replace("_proxies.csv", ".csv")
    blank = [c for c in rows[0] if all(r[c] in ("", None) for r in rows)]
    if blank and full != path and os.path.exists(full):
        with open(full, newline="") as f:
            by_arch = {naslib_id(space, r["arch"]): r for r in csv.DictReader(f)}
        for r in rows:
            other = by_arch.get(naslib_id(space, r["arch"]), {})
            for c in blank:
                r[c] = other.get(c, "")
    return rows


def naslib_id(space, raw):
    """Our id of a reference row's NASLib tuple."""
    if space == "nb101":
        from eznas.spaces.nb101 import parse_naslib

        return parse_naslib(raw)
    from eznas.spaces.tnb101 import from_naslib

    return from_naslib(space, raw)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--space", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--reference", help="reference scores file (default: the shared file of the space and dataset)")
    p.add_argument("--n", type=int, default=500, help="networks: the first N rows of the reference file")
    p.add_argument("--baselines", default=",".join(OURS), help="comma-separated")
    p.add_argument("--kernel-batch", type=int, default=16, help="batch size of naswot and jacob_cov")
    p.add_argument("--batch", type=int, default=1, help="batch size of the other baselines (EZNAS: 1)")
    p.add_argument("--data", default="photos")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--out", default=None, help="folder of score CSVs (default runs/baselines/<space>-<dataset>)")
    p.add_argument("--resolution", type=int, default=None,
                   help="TransNAS-Bench-101 input size in px (default: the space's; needs --jobs 1)")
    p.add_argument("--exclude", default=None, help="a run directory or statistics store: its networks of the space "
                   "are left out of every figure")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    if a.resolution:
        from eznas.spaces import tnb101

        if a.jobs != 1 or a.space not in tnb101.RESOLUTION:
            p.error("--resolution is for the TransNAS-Bench-101 spaces, with --jobs 1")
        tnb101.RESOLUTION[a.space] = a.resolution
    ref_path = a.reference or os.path.join(SHARED, REFERENCE[(a.space, a.dataset)])
    out = a.out or os.path.join("runs", "baselines", f"{a.space}-{a.dataset}" + (f"-{a.resolution}px" if a.resolution else "")
                                + (f"-batch{a.batch}" if a.batch != 1 else ""))
    os.makedirs(out, exist_ok=True)
    load_ground_truth(a.space, a.dataset, ref_path)  # the reference file loads and its ids check
    rows = reference_rows(ref_path, a.n, a.space)
    dropped = 0
    if a.exclude:
        from eznas.score import task_archs

        seen = task_archs(a.exclude, a.space)
        kept = [r for r in rows if str(naslib_id(a.space, r["arch"])) not in seen]
        dropped, rows = len(rows) - len(kept), kept
    archs = [naslib_id(a.space, r["arch"]) for r in rows]
    gt = load_ground_truth(a.space, a.dataset)  # the shipped table: the networks to build
    indices = sorted({gt.index[str(arch)] for arch in archs})  # NB101's sample repeats cells: each scored once
    acc = np.array([float(r["val_accuracy"]) for r in rows])  # each row's own accuracy, as the reference taus use
    shipped = gt.accuracy[[gt.index[str(x)] for x in archs]]  # the shipped table (the task's file of all networks)
    mism = int(np.sum(np.abs(shipped - acc) > 1e-3))
    lines = [f"## {a.space} / {a.dataset}: {len(indices)} networks (the first of {os.path.basename(ref_path)}); "
             f"data {a.data} at {input_shape(a.space, a.dataset)[1]} px, batch {a.batch} ({', '.join(KERNEL_BASED)}: "
             f"{a.kernel_batch}), seed {a.seed}",
             "", "| baseline | ours: tau | reference: tau | networks | ours vs reference (Kendall) | ours: tau, shipped table "
             "| tau in top 10 % (shipped) | top-1 % by proxy: mean accuracy (shipped) |",
             "|---|---|---|---|---|---|---|---|"]
    if dropped:
        lines.insert(1, f"{dropped} of the first {a.n} rows are networks of {a.exclude} and are left out")
    if mism:
        lines.insert(1, f"{mism} of its rows give another accuracy than the shipped table (Kendall tau between the two "
                        f"{kendall(acc, shipped):.3f}); taus use each row's own, the last column the shipped table's")
    for name in a.baselines.split(","):
        path = os.path.join(out, f"{name}.csv")
        batch = a.kernel_batch if name in KERNEL_BASED else a.batch
        score_space(name, gt, indices, path, a.data, batch, a.seed, "cpu", progress=not a.quiet, jobs=a.jobs)
        got = {r["arch"]: float(r["score"]) for r in read_rows(path)}
        ours = np.array([got.get(str(arch), np.nan) for arch in archs])
        t_ours, n_ours = _tau(ours, acc)
        col = OURS.get(name)
        if col and col in rows[0]:
            theirs = np.array([float(r[col]) if r[col] not in ("", None) else np.nan for r in rows])
            t_ref, n_ref = _tau(theirs, acc)
            agree, _ = _tau(ours, theirs)
            cells = f"{t_ref:.3f} | {min(n_ours, n_ref)} | {agree:.3f}"
        else:
            cells = f"- | {n_ours} | -"
        top10, best1 = top_of_ranking(ours, shipped)
        lines.append(f"| {name} | {t_ours:.3f} | {cells} | {_tau(ours, shipped)[0]:.3f} | {top10:.3f} | {best1:.2f} |")
        print(lines[-1], flush=True)
    text = "\n".join(lines)
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
