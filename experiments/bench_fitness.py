"""Fitness throughput: store-backed, network-major, shape-batched evaluation versus the
naive path of the original code (each individual recomputes the statistics of every
sampled network), same programs and networks, NAS-Bench-201 (C=16, N=5) at batch 1.

    python experiments/bench_fitness.py --nets 8 --programs 100 [--workload generation|random]

Prints program-network evaluations per second for each path and the ratio (target >= 100x).
"""
import argparse
import json
import os
import random
import shutil
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import Timer, machine  # noqa: E402

from deap import algorithms  # noqa: E402

from eznas.baselines import EZNAS_A  # noqa: E402
from eznas.evolve.primitives import from_string, make_toolbox  # noqa: E402
from eznas.parallel import WORKER_CACHE, score_items  # noqa: E402
from eznas.program import OpError, parse, score_network  # noqa: E402
from eznas.spaces import nb201  # noqa: E402
from stats_cache.collect import collect, group_layers  # noqa: E402
from eznas.inputs import load_batch  # noqa: E402
from stats_cache.store import StatsStore  # noqa: E402


def programs(n, workload, seed=0, checkpoint=None):
    """``random``: EZNAS-A and random trees of depth <= 6.  ``generation``: what the
    engine evaluates in one generation of Algorithm 1 (eznas.evolve.algorithm): a
    population of n/2 random trees, n/4 offspring of it by varOr (crossover 0.4,
    mutation 0.4, depth 2..10) and n/4 new random trees, distinct programs only.  With
    ``checkpoint`` the population is a real run's (converged: fewer distinct programs)."""
    random.seed(seed)
    if workload == "random":
        tb = make_toolbox(max_depth=6)
        out = [EZNAS_A]
        while len(out) < n:
            out.append(str(tb.individual()))
        return out
    tb = make_toolbox(max_depth=10)
    if checkpoint:  # the population of a real run, as its next generation would start
        with open(checkpoint) as f:
            pop = [from_string(text) for text, _ in json.load(f)["population"]][:n // 2]
    else:
        pop = [tb.individual() for _ in range(n // 2)]
    out = dict.fromkeys(str(i) for i in pop)
    out.update(dict.fromkeys(str(i) for i in algorithms.varOr(pop, tb, n // 4, 0.4, 0.4)))
    out.update(dict.fromkeys(str(tb.individual()) for _ in range(n // 4)))
    return list(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--nets", type=int, default=10)
    p.add_argument("--programs", type=int, default=10)
    p.add_argument("--workload", choices=("generation", "random"), default="generation")
    p.add_argument("--checkpoint", help="generation workload: take the population from this run's checkpoint.json")
    a = p.parse_args()
    torch.set_num_threads(1)  # both paths on one core (score_items also runs single-threaded)
    archs = [nb201.product_string(i) for i in random.Random(1).sample(range(nb201.N_ARCHS), a.nets)]
    x = load_batch("photos", 1, 32, 0)
    progs = programs(a.programs, a.workload, checkpoint=a.checkpoint)
    tmp = tempfile.mkdtemp()
    try:
        url = os.path.join(tmp, "s.zarr")
        store = StatsStore(url, "a", config={"dtype": "float32", "bench": True})
        for i, arch in enumerate(archs):
            torch.manual_seed(i)
            store.write_network("nb201", f"n{i:06d}", collect(nb201.build(arch), x, seed=0), {})
        items = [("nb201", f"n{i:06d}") for i in range(a.nets)]
        with Timer() as t_naive:
            naive = np.full((len(progs), a.nets), np.nan)
            for pi, prog in enumerate(progs):
                prefix = parse(prog)
                for j, arch in enumerate(archs):
                    torch.manual_seed(j)
                    groups = group_layers(collect(nb201.build(arch), x, seed=0))
                    try:
                        naive[pi, j] = score_network(prefix, groups)
                    except OpError:
                        pass
        WORKER_CACHE.clear()
        with Timer() as t_cold:
            cold = score_items(url, progs, items)
        with Timer() as t_warm:
            warm = score_items(url, progs, items)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n = len(progs) * a.nets
    same = np.isfinite(naive) == np.isfinite(cold)
    rel = np.nanmax(np.abs(naive - cold) / np.maximum(np.abs(naive), 1e-12))
    print(f"machine: {machine()}; one core per path; {a.nets} NB201 networks x {len(progs)} distinct programs "
          f"({a.workload} workload{', population from ' + a.checkpoint if a.checkpoint else ''})")
    print("| path | evaluations/s | vs naive |\n|---|---|---|")
    print(f"| naive: recompute statistics per individual | {n / t_naive.s:.2f} | 1.0 |")
    print(f"| store, network-major, first read (float32) | {n / t_cold.s:.2f} | {t_naive.s / t_cold.s:.1f} |")
    print(f"| store, network-major, cached networks | {n / t_warm.s:.2f} | {t_naive.s / t_warm.s:.1f} |")
    print(f"validity agrees on {same.mean():.0%} of pairs; max relative score difference (naive vs store) {rel:.2e}; "
          f"cached scores equal first-read scores: {np.array_equal(cold, warm, equal_nan=True)}")


if __name__ == "__main__":
    main()
