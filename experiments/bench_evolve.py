"""End-to-end search cost and the memory bound.

    python experiments/bench_evolve.py end-to-end [--jobs 2]
        the paper's default configuration (15 generations x 50, s = 4, 20 networks per space
        per generation, 80 per space in the task dataset) on a store of four spaces:
        NB201 CIFAR-10 and CIFAR-100 (needs ../shared/benchmarks) and the two built-in
        spaces (bench_nb201, bench_nb201_noisy); prints collection time, search wall time and peak RSS of the process tree.
        Targets: <= 30 minutes and <= 4 GB on 2 cores.
    python experiments/bench_evolve.py memory [--generations 3]
        the same short search on stores of 80 and of 400 bench_nb201 networks (task dataset =
        the whole store), peak RSS of each; target: within 20 %.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import Timer, machine, run_measured  # noqa: E402

from eznas.collection import collect_space, collection_config, sample_indices  # noqa: E402
from eznas.spaces.sources import load_ground_truth  # noqa: E402
from stats_cache.store import StatsStore  # noqa: E402

NB201_CSV = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "benchmarks", "nb201", "nb201_test_accuracy.csv")


def fill(url, specs, n, dtype="float16"):
    """Collect n networks of each (space, dataset, ground-truth path) into url; returns store keys."""
    keys = []
    for space, ds, path in specs:
        data = "digits" if space.startswith("bench_") else "photos"
        store = StatsStore(url, "a", config=collection_config(data, 1, 0, dtype, "rcb", "sum"))
        gt = load_ground_truth(space, ds, path)
        collect_space(gt, store, sample_indices(len(gt), n, 0), 0, "cpu", True)
        keys.append(f"{space}-{gt.dataset}")
    return keys


def evolve_cmd(store, spaces, extra):
    return [sys.executable, "-m", "eznas.evolve", "--store", store, "--spaces", ",".join(spaces), "--quiet",
            "--runs-root", "runs/bench"] + extra


def end_to_end(a):
    specs = [("bench_nb201", None, None), ("bench_nb201_noisy", None, None)]
    if os.path.exists(NB201_CSV):
        specs = [("nb201", "cifar10", NB201_CSV), ("nb201", "cifar100", NB201_CSV)] + specs
    store = "runs/bench/e2e.zarr"
    with Timer() as tc:
        spaces = fill(store, specs, 80)
    print(f"collection of {len(spaces)} x 80 networks: {tc.s:.0f} s (skipped where already in {store})")
    rc, secs, rss = run_measured(evolve_cmd(store, spaces, ["--jobs", str(a.jobs)]))
    print(f"machine: {machine()}")
    print(f"paper default search on {', '.join(spaces)} (jobs {a.jobs}): exit {rc}, {secs / 60:.1f} min, peak RSS {rss:.0f} MB")


def memory(a):
    rows = []
    for n in (80, 400):
        url = f"runs/bench/mem{n}.zarr"
        spaces = fill(url, [("bench_nb201", None, None)], n, dtype="float32")
        extra = ["--generations", str(a.generations), "--task-nets", str(n), "--cache-mb", str(a.cache_mb),
                 "--batch-mb", str(a.batch_mb), "--spaces-per-gen", "1"]
        rc, secs, rss = run_measured(evolve_cmd(url, spaces, extra))
        rows.append((n, rc, secs, rss))
    print(f"machine: {machine()}")
    print("| networks per space | exit | seconds | peak RSS MB |\n|---|---|---|---|")
    for n, rc, secs, rss in rows:
        print(f"| {n} | {rc} | {secs:.0f} | {rss:.0f} |")
    print(f"peak RSS ratio 400 / 80: {rows[1][3] / rows[0][3]:.3f} (target < 1.20)")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("end-to-end")
    e.add_argument("--jobs", type=int, default=2)
    m = sub.add_parser("memory")
    m.add_argument("--generations", type=int, default=3)
    m.add_argument("--cache-mb", type=int, default=64)
    m.add_argument("--batch-mb", type=int, default=64)
    a = p.parse_args()
    end_to_end(a) if a.cmd == "end-to-end" else memory(a)


if __name__ == "__main__":
    main()
