"""Leave one space out: for each task space, evolve on the others and test on it.

    python experiments/leave_one_space_out.py --store runs/stats-100.zarr --jobs 2 \
        [--generations 15 --population 50 ...]   # any eznas.evolve config key as --key value
    python experiments/leave_one_space_out.py --store runs/builtin-real-stats.zarr --by-space \
        --jobs 2 --size-factor flops --generations 6 ...   # leave out a whole space (all its datasets)

For each space S of the store (with --by-space: each search space, e.g. nb201 with both its
store keys nb201-cifar10 and nb201-cifar100): a search (same config and seed) on every other space, then
program_0..2 of that run, #params, FLOPs, synflow and EZNAS-A scored on every stored
network of S (none of which the search saw, neither for selection nor for ranking) and on
the validation networks of the spaces it searched.  Runs go to runs/loso/<S>/; the table
to runs/loso/table.md.
"""
import argparse
import os

from eznas import heldout
from eznas.evolve.algorithm import Evolution
from eznas.evolve.config import Config
from eznas.evolve.finish import finish
from eznas.evolve.rundir import RunDir
from eznas.evolve.task import Task
from stats_cache.store import StatsStore

OUT = os.path.join("runs", "loso")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", required=True)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--by-space", action="store_true", help="leave out every store key of one search space at once")
    p.add_argument("--out", default=OUT)
    a, rest = p.parse_known_args()
    over = {}
    for k, v in zip(rest[::2], rest[1::2]):
        key = k.lstrip("-").replace("-", "_")
        key = "lambda_" if key == "lambda" else key
        over[key] = type(getattr(Config(), key))(v)
    store = StatsStore(a.store, "r")
    spaces = store.spaces()
    lines = []
    groups = {}
    for s in spaces:
        groups.setdefault(heldout.base_space(s) if a.by_space else s, []).append(s)
    for name, lefts in groups.items():
        cfg = Config.from_sources(overrides={**over, "store": a.store, "jobs": a.jobs,
                                             "spaces": [s for s in spaces if s not in lefts]})
        run = RunDir(os.path.join(a.out, name))
        cfg.run_dir = run.path
        run.write_config(cfg.to_dict())
        task = Task(cfg.store, cfg.spaces, cfg.task_nets, cfg.validation_nets, cfg.seed, cfg.filter_nets)
        pop, hof = Evolution(cfg, task, run, progress=False).run_all()
        rows, _ = finish(cfg, task, run, pop, hof)
        progs = {f"program_{k}": r["program"] for k, r in enumerate(rows[:3])}
        res = {}
        for left in lefts:
            attrs = store.network_attrs(left)
            keys = sorted(attrs)
            res[f"{left} (left out, all stored)"] = heldout.stored_taus(
                a.store, left, keys, {k: float(v["accuracy"]) for k, v in attrs.items()}, attrs, progs, cfg.to_scalar,
                a.jobs, **cfg.memory())
        res.update({f"{s} validation": v for s, v in heldout.validation_taus(task, progs, cfg.to_scalar, a.jobs,
                                                                                  **cfg.memory()).items()})
        md = heldout.table(res, list(progs))
        lines += [f"### without {name}", "", "program_0: `" + rows[0]["program"] + "`", "", md, ""]
        print("\n".join(lines[-6:]), flush=True)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
