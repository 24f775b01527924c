"""How well does a generation's fitness predict the validation tau of a program?

    python experiments/study_fitness_noise.py --store runs/stats-100.zarr --programs 200 \
        [--checkpoint runs/<run>/checkpoint.json]

A population (random valid programs of the engine's generator, plus the programs of a run's
checkpoint when given) is scored with the engine's fitness (minimum over spaces of Kendall
tau) on per-generation samples of 20 and 40 search networks per space (3 generations'
samples each) and on all search networks, and with the same statistic on the validation
networks (never used by selection).  Printed per setting: Spearman rank correlation across
the population between fitness and validation tau, the validation tau of the program the
fitness ranks first (mean over samples), and the seconds one evaluation of the population
took (one core).  This chose the engine's default ``nets_per_space`` (BENCHMARKS.md).
"""
import argparse
import json
import random
import time

import numpy as np
from scipy.stats import spearmanr

from eznas.evolve.primitives import from_string, make_toolbox
from eznas.evolve.task import Task
from eznas.fitness import evaluate


def population(task, n, seed, checkpoint=None):
    random.seed(seed)
    tb = make_toolbox()
    out = []
    while len(out) < n:
        ind = tb.individual()
        if task.valid(ind) and str(ind) not in out:
            out.append(str(ind))
    if checkpoint:
        with open(checkpoint) as f:
            ck = json.load(f)
        out += [str(from_string(p)) for p, _ in ck["population"] + ck["hof"] if str(from_string(p)) not in out]
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", required=True)
    p.add_argument("--task-nets", type=int, default=100)
    p.add_argument("--validation-nets", type=int, default=30)
    p.add_argument("--programs", type=int, default=200)
    p.add_argument("--checkpoint", help="add a run's population and hall of fame")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    task = Task(a.store, None, a.task_nets, a.validation_nets, a.seed)
    progs = population(task, a.programs, a.seed, a.checkpoint)
    val, _ = evaluate(progs, a.store, task.held_out(), task.accuracy)
    ok = [i for i, v in enumerate(val) if v is not None]
    print(f"{len(progs)} programs ({len(ok)} valid on validation); spaces {task.spaces}; "
          f"search {[len(v) for v in task.nets.values()]}, validation {[len(v) for v in task.validation.values()]} per space")
    evaluate(progs, a.store, task.full(), task.accuracy)  # warm the cache so timings compare evaluation
    lines = ["| search networks per space per generation | samples | Spearman (fitness vs validation tau) | "
             "validation tau of the fitness's best program | s per population evaluation |", "|---|---|---|---|---|"]
    for k, gens in ((20, (1, 2, 3)), (40, (1, 2, 3)), (0, (1,))):
        rhos, bests, secs = [], [], []
        for g in gens:
            t0 = time.perf_counter()
            fit, _ = evaluate(progs, a.store, task.sample(g, len(task.spaces), k), task.accuracy)
            secs.append(time.perf_counter() - t0)
            both = [i for i in ok if fit[i] is not None]
            f = np.array([fit[i] for i in both])
            v = np.array([val[i] for i in both])
            rhos.append(spearmanr(f, v).statistic)
            bests.append(v[int(np.argmax(f))])
        label = "all" if k == 0 else str(k)
        lines.append(f"| {label} ({min(len(x) for x in task.sample(1, 4, k).values())}) | {len(gens)} | "
                     f"{np.mean(rhos):.3f} (range {min(rhos):.3f}..{max(rhos):.3f}) | {np.mean(bests):.3f} | "
                     f"{np.mean(secs):.1f} |")
    vbest = max(val[i] for i in ok)
    lines.append(f"\nbest validation tau in the population: {vbest:.3f}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
