"""Programs on a run's validation networks (never used by its search), beside the baselines.

    python experiments/validation_taus.py --run runs/ovf-s0 \
        --program "hamming=layer_sum(square(hamming_dist(relu(T4G_D), T4G_N)))" \
        --program "hamming_x_flops=times_flops(layer_sum(square(hamming_dist(relu(T4G_D), T4G_N))))"

The run's config gives the store and the task split (seed, task_nets, validation_nets), so
any program, from this run or another, is judged on the same networks; a cheap ablation
(statistics are read from the store, nothing is collected).  Prints one row per space with
Kendall tau, then the minimum over spaces.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import named_programs  # noqa: E402

from eznas import heldout  # noqa: E402
from eznas.evolve.rundir import read_json
from eznas.evolve.task import Task


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="run directory (its config.json)")
    p.add_argument("--program", action="append", default=[], help="NAME=PROGRAM (repeatable)")
    p.add_argument("--jobs", type=int, default=2)
    a = p.parse_args(argv)
    cfg = read_json(os.path.join(a.run, "config.json"), "run config")
    programs = named_programs(p, a.program)
    task = Task(cfg["store"], cfg["spaces"], cfg["task_nets"], cfg["validation_nets"], cfg["seed"], cfg["filter_nets"])
    rows = heldout.validation_taus(task, programs, cfg.get("to_scalar", "mean"), a.jobs)
    res = {f"{s} validation": r for s, r in rows.items()}
    cols = list(programs) + list(heldout.BASELINE_NAMES)
    res["minimum over spaces"] = {"n": sum(r["n"] for r in rows.values()),
                                  **{c: min(r.get(c, np.nan) for r in rows.values())  # NaN if any space lacks it
                                     if all(np.isfinite(r.get(c, np.nan)) for r in rows.values()) else np.nan
                                     for c in cols}}
    print(heldout.table(res, list(programs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
