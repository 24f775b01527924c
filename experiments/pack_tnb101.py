"""Pack the TransNAS-Bench-101 ground truth shipped with the package.

    python experiments/pack_tnb101.py [--shared ../shared/benchmarks/transnas101]

Reads ``<space>/class_object.csv`` and ``<space>/class_scene.csv`` (NAS-Bench-Suite-Zero's
files: NASLib tuples, ``val_accuracy`` = the final validation top-1 %) and writes
``eznas/data/tnb101_<space>.csv.gz`` with the columns ``arch`` (the benchmark's strings),
``accuracy_class_object``, ``accuracy_class_scene``: one row per network, in the space's
index order (``arch_of``), the accuracies copied as written in the source files.  The
output is byte-identical from run to run (gzip mtime 0).
"""
import argparse
import csv
import gzip
import io
import os
import sys

from eznas.spaces import tnb101

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SHARED = os.path.join(HERE, "..", "..", "shared", "benchmarks", "transnas101")
OUT = os.path.join(HERE, "..", "eznas", "data")
SPACES = {"macro": ("tnb101_macro", tnb101.N_MACRO, tnb101.macro_arch),
          "micro": ("tnb101_micro", tnb101.N_MICRO, tnb101.micro_arch)}


def read_task(path, space):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    out = {}
    for k, r in enumerate(rows):
        arch = tnb101.from_naslib(space, r["arch"])
        if arch in out:
            raise SystemExit(f"{path}: data row {k + 1}: {arch} appears twice")
        float(r["val_accuracy"])  # a number, or the row is named
        out[arch] = r["val_accuracy"]
    return out


def pack(shared, sub):
    space, n, arch_of = SPACES[sub]
    tasks = {t: read_task(os.path.join(shared, sub, f"{t}.csv"), space) for t in tnb101.DATASETS}
    archs = [arch_of(i) for i in range(n)]
    for t, acc in tasks.items():
        if set(acc) != set(archs):
            raise SystemExit(f"{sub}/{t}.csv: {len(set(acc) - set(archs))} networks outside the space, "
                             f"{len(set(archs) - set(acc))} of the space missing")
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow(["arch"] + [f"accuracy_{t}" for t in tnb101.DATASETS])
    for a in archs:
        w.writerow([a] + [tasks[t][a] for t in tnb101.DATASETS])
    path = os.path.join(OUT, f"{space}.csv.gz")
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as f:
        f.write(text.getvalue().encode())
    print(f"{os.path.normpath(path)}: {len(archs)} networks")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shared", default=DEFAULT_SHARED, help="the transnas101 folder of the shared benchmarks")
    a = p.parse_args(argv)
    for sub in SPACES:
        pack(a.shared, sub)


if __name__ == "__main__":
    sys.exit(main())
