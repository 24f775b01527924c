"""Fitness throughput with 1 and 2 workers (joblib loky) and on a dask.distributed
LocalCluster (2 single-thread worker processes, loopback) against local joblib.

    python experiments/bench_scaling.py --nets 40 --programs 50

Uses the built-in space's statistics (collected into runs/bench/scaling.zarr if missing).
Each setting is timed on four calls: the first includes worker start-up and cold caches;
"steady" is the median of the other three (which worker gets which chunk of networks is up to
joblib / dask, so a later call may still read networks its worker has not cached).
"""
import argparse
import os
import random
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import Timer, machine  # noqa: E402

from eznas.collection import collect_space, collection_config, sample_indices  # noqa: E402
from eznas.evolve.primitives import make_toolbox  # noqa: E402
from eznas.parallel import backend, score_items  # noqa: E402
from eznas.spaces.sources import load_ground_truth  # noqa: E402
from stats_cache.store import StatsStore  # noqa: E402

URL = "runs/bench/scaling.zarr"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--nets", type=int, default=40)
    p.add_argument("--programs", type=int, default=50)
    a = p.parse_args()
    store = StatsStore(URL, "a", config=collection_config("digits", 1, 0, "float32", "rcb", "sum"))
    gt = load_ground_truth("bench_nb201")
    collect_space(gt, store, sample_indices(len(gt), a.nets, 0), 0, "cpu", False)
    items = [("bench_nb201-digits", k) for k in store.networks("bench_nb201-digits")][: a.nets]
    random.seed(0)
    tb = make_toolbox(max_depth=6)
    progs = [str(tb.individual()) for _ in range(a.programs)]
    n = len(items) * len(progs)
    rows, ref = [], None
    settings = [("joblib, 1 worker", "loky", 1, None), ("joblib loky, 2 workers", "loky", 2, None),
                ("dask LocalCluster, 2 workers", "dask", 2, "cluster")]
    for name, be, jobs, sched in settings:
        cluster = None
        if sched:
            from distributed import LocalCluster

            cluster = LocalCluster(host="127.0.0.1", n_workers=2, threads_per_worker=1, dashboard_address=None)
            sched = cluster.scheduler_address
        times = []
        with backend(be, sched):
            for _ in range(4):
                with Timer() as t:
                    out = score_items(URL, progs, items, jobs)
                times.append(t.s)
        if cluster:
            cluster.close()
        ref = out if ref is None else ref
        same = np.array_equal(np.isnan(ref), np.isnan(out)) and np.allclose(ref[~np.isnan(ref)], out[~np.isnan(out)], rtol=0, atol=0)
        rows.append((name, n / times[0], n / float(np.median(times[1:])), same))
    print(f"machine: {machine()}; {len(items)} networks x {len(progs)} programs")
    print("| setting | evals/s first call | evals/s steady | steady vs 1 worker | identical scores |\n|---|---|---|---|---|")
    for name, first, steady, same in rows:
        print(f"| {name} | {first:.1f} | {steady:.1f} | {steady / rows[0][2]:.2f} | {same} |")


if __name__ == "__main__":
    main()
