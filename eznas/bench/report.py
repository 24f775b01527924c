"""Noise ceilings and FLOPs / params correlations of the built-in benchmark tables."""
import csv
import os

from scipy.stats import kendalltau

from eznas.spaces.registry import names

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def report(data_dir=DATA):
    lines = ["| space | networks | seed-to-seed tau (n) | params tau | FLOPs tau | mean train s |", "|---|---|---|---|---|---|"]
    for space in names(builtin=True):
        main = os.path.join(data_dir, f"{space}.csv")
        if not os.path.exists(main):
            continue
        rows = _rows(main)
        acc = [float(r["accuracy"]) for r in rows]
        tp = kendalltau([float(r["params"]) for r in rows], acc)[0]
        tf = kendalltau([float(r["flops"]) for r in rows], acc)[0]
        secs = sum(float(r["train_seconds"]) for r in rows) / len(rows)
        noise = "-"
        again = os.path.join(data_dir, f"{space}_seed1.csv")
        if os.path.exists(again):
            a1 = {r["arch"]: float(r["accuracy"]) for r in rows}
            r2 = [r for r in _rows(again) if r["arch"] in a1]
            t = kendalltau([a1[r["arch"]] for r in r2], [float(r["accuracy"]) for r in r2])[0]
            noise = f"{t:.3f} ({len(r2)})"
        lines.append(f"| {space} | {len(rows)} | {noise} | {tp:.3f} | {tf:.3f} | {secs:.2f} |")
    return "\n".join(lines)
