"""``python -m eznas.bench {build,retrain,report}``: the built-in benchmark."""
import argparse
import csv
import sys

from eznas.bench.build import sample_archs, train_many
from eznas.bench.report import report
from eznas.spaces.sources import BUILTIN


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m eznas.bench", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="train n sampled networks of a space")
    b.add_argument("--space", required=True, choices=BUILTIN)
    b.add_argument("--n", type=int, default=1000)
    b.add_argument("--seed", type=int, default=0, help="sampling and training seed")
    b.add_argument("--out", required=True)
    b.add_argument("--jobs", type=int, default=1)
    r = sub.add_parser("retrain", help="retrain the first n networks of a table with another seed")
    r.add_argument("--table", required=True)
    r.add_argument("--space", required=True, choices=BUILTIN)
    r.add_argument("--n", type=int, default=100)
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--out", required=True)
    r.add_argument("--jobs", type=int, default=1)
    sub.add_parser("report", help="noise ceilings and FLOPs/params tau of the committed tables")
    a = p.parse_args(argv)
    if a.cmd == "build":
        train_many(a.space, sample_archs(a.space, a.n, a.seed), a.seed, a.out, a.jobs)
    elif a.cmd == "retrain":
        try:
            with open(a.table, newline="") as f:
                archs = [row["arch"] for row in csv.DictReader(f)][: a.n]
        except (OSError, KeyError) as e:
            sys.exit(f"--table {a.table}: cannot read architectures ({e})")
        train_many(a.space, archs, a.seed, a.out, a.jobs)
    else:
        print(report())


if __name__ == "__main__":
    main()
