"""The built-in benchmark: train sampled networks of a built-in space, retrain some with
another seed, or report the committed tables' noise ceilings and size baselines.

    eznas bench build --space bench_sss --n 1000 --out bench_sss.csv --jobs 2
    eznas bench report
"""
import csv

from eznas.cli import add_command, output_path, positive_int

HELP = "build or report the built-in benchmark"


def add_arguments(p):
    from eznas.spaces.registry import names

    builtin = names(builtin=True)

    sub = p.add_subparsers(dest="cmd", required=True, metavar="ACTION")
    b = add_command(sub, "build", "train n sampled networks of a space")
    b.add_argument("--space", required=True, choices=builtin, help="built-in space")
    b.add_argument("--n", type=positive_int, default=1000, help="networks")
    b.add_argument("--seed", type=int, default=0, help="sampling and training seed")
    b.add_argument("--out", required=True, help="CSV written (resumable)")
    b.add_argument("--jobs", type=positive_int, default=1, help="processes")
    r = add_command(sub, "retrain", "retrain the first n networks of a table with another seed")
    r.add_argument("--table", required=True, help="CSV whose 'arch' column is read")
    r.add_argument("--space", required=True, choices=builtin, help="built-in space")
    r.add_argument("--n", type=positive_int, default=100, help="networks")
    r.add_argument("--seed", type=int, default=1, help="training seed")
    r.add_argument("--out", required=True, help="CSV written (resumable)")
    r.add_argument("--jobs", type=positive_int, default=1, help="processes")
    add_command(sub, "report", "noise ceilings and FLOPs/params tau of the committed tables")


def run(a):
    from eznas.bench.build import sample_archs, train_many
    from eznas.bench.report import report

    if a.cmd == "build":
        output_path(a.out, "--out")
        train_many(a.space, sample_archs(a.space, a.n, a.seed), a.seed, a.out, a.jobs, progress=not a.quiet)
    elif a.cmd == "retrain":
        try:
            with open(a.table, newline="") as f:
                archs = [row["arch"] for row in csv.DictReader(f)][: a.n]
        except (OSError, KeyError) as e:
            raise ValueError(f"--table {a.table}: cannot read architectures ({e})") from None
        output_path(a.out, "--out")
        train_many(a.space, archs, a.seed, a.out, a.jobs, progress=not a.quiet)
    else:
        print(report())
