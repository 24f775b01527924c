"""Make the shipped NAS-Bench-101 table eznas/data/nb101.csv.gz from the shared
NAS-Bench-Suite-Zero sample (../shared/benchmarks/nb101/nb101_500_cifar10.csv).

    python experiments/pack_nb101.py [--src FILE] [--out FILE]

Writes ``arch,accuracy_cifar10``: the canonical architecture id (NASLib's 56-number tuple
converted by eznas.spaces.nb101) and the 108-epoch CIFAR-10 validation accuracy
(``val_accuracy``).  The 500 rows are 301 distinct networks: NASLib sampled random 7x7
matrices, which often prune to the same cell (55 rows are the bare input -> output cell),
and each query returned one of the benchmark's three training runs.  One row is kept per
network, in order of first appearance, with the mean of its rows' accuracies (written
unchanged when it has one row); ``--keep-duplicates`` writes all 500 rows instead.  The
gzip header carries no time stamp, so the output is byte-identical on every run.
"""
import argparse
import csv
import gzip
import io
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "..", "shared", "benchmarks", "nb101", "nb101_500_cifar10.csv")
OUT = os.path.join(ROOT, "eznas", "data", "nb101.csv.gz")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--src", default=SRC, help="the NAS-Bench-Suite-Zero CSV (arch, val_accuracy, ...)")
    p.add_argument("--out", default=OUT, help="the table to write (.csv.gz)")
    p.add_argument("--keep-duplicates", action="store_true", help="one row per source row (ids repeat)")
    a = p.parse_args(argv)

    from eznas.spaces.nb101 import load_naslib_csv

    gt = load_naslib_csv(a.src)  # checks and converts every row
    with open(a.src, newline="") as f:
        acc = [r["val_accuracy"] for r in csv.DictReader(f)]
    rows = list(zip(gt.archs, acc))
    if not a.keep_duplicates:
        runs = {}  # id -> its accuracies as written, in order of first appearance
        for arch, x in rows:
            runs.setdefault(arch, []).append(x)
        rows = [(arch, xs[0] if len(xs) == 1 else repr(sum(map(float, xs)) / len(xs))) for arch, xs in runs.items()]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["arch", "accuracy_cifar10"])
    w.writerows(rows)
    with open(a.out, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as f:
        f.write(buf.getvalue().encode())
    print(f"{a.out}: {len(rows)} rows ({len(set(gt.archs))} distinct networks in {len(gt.archs)} source rows)")


if __name__ == "__main__":
    main()
