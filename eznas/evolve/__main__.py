"""python -m eznas.evolve: discover zero-cost proxies by genetic programming (EZNAS).

With no arguments: a real, small search on the built-in benchmark (statistics collected
on the fly into runs/builtin-stats.zarr), a few minutes on 2 cores.  Otherwise give a
statistics store (see python -m eznas.collect) and optionally a TOML config; flags override
the config, which overrides the paper's defaults (15 generations, population 50, ...).
Every run writes runs/<time>/ with config.json, versions.json, log.csv, checkpoint.json,
hall_of_fame.json, fitness.png and programs/*.py.  Ctrl-C stops after the last finished
generation's checkpoint; --resume RUN_DIR continues.
"""
import argparse
import json
import sys

from eznas.evolve.algorithm import Evolution
from eznas.evolve.config import Config
from eznas.evolve.finish import finish, plan_tests
from eznas.evolve.rundir import RunDir
from eznas.evolve.task import Task

FLAGS = {"generations": int, "population": int, "tournament": int, "mu": int, "lambda_": int, "cxpb": float,
         "mutpb": float, "min_depth": int, "max_depth": int, "spaces_per_gen": int, "nets_per_space": int,
         "task_nets": int, "validation_nets": int, "filter_nets": int, "seed": int, "jobs": int, "backend": str, "scheduler": str, "store": str,
         "to_scalar": str, "hof_size": int, "batch_mb": int, "cache_mb": int}


# what a resumed run may change: more generations, and how (not what) it computes
RESUME_OVERRIDES = ("generations", "jobs", "backend", "scheduler", "cache_mb", "batch_mb")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m eznas.evolve", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="TOML file with Config keys")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    p.add_argument("--runs-root", default="runs")
    p.add_argument("--name", help="run directory name (default: the start time)")
    p.add_argument("--spaces", help="comma-separated store keys (default: all in the store)")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--test", action="append", metavar="SPACE:DATASET:N",
                   help="a held-out test set scored after the run, disjoint from the task's networks, e.g. "
                        "nb201:imagenet16-120:500 (repeatable; statistics streamed, nothing stored)")
    for k, t in FLAGS.items():
        p.add_argument("--" + k.rstrip("_").replace("_", "-"), dest=k, type=t)
    return p.parse_args(argv)


def main(argv=None):
    a = parse_args(argv)
    try:
        if a.resume:
            run = RunDir(a.resume)
            try:
                stored = run.read_config()
            except FileNotFoundError:
                sys.exit(f"error: --resume {a.resume}: no config.json there (not a run directory)")
            changed = {k: getattr(a, k) for k in RESUME_OVERRIDES if getattr(a, k) is not None}
            ignored = [k for k in FLAGS if k not in RESUME_OVERRIDES and getattr(a, k) is not None]
            if ignored:
                sys.exit(f"error: --resume keeps the run's config; only {sorted(RESUME_OVERRIDES)} may change (got {ignored})")
            cfg = Config.from_sources(overrides={**stored, **changed})
            if changed:
                run.write_config(cfg.to_dict())
        else:
            over = {k: getattr(a, k) for k in FLAGS}
            if a.spaces:
                over["spaces"] = a.spaces.split(",")
            if a.test:
                over["tests"] = a.test
            builtin = not (a.config or a.store)
            if builtin:
                from eznas.evolve import builtin as B

                over = {**B.DEFAULTS, **{k: v for k, v in over.items() if v is not None}}
                if over.get("tests") is None:
                    over["tests"] = B.DEFAULT_TESTS
                over["store"] = B.DEFAULT_STORE
            cfg = Config.from_sources(a.config, over)
            if builtin:
                cfg.spaces = cfg.spaces or B.ensure_builtin_store(cfg.store, cfg.task_nets, cfg.seed, not a.quiet)
            run = RunDir.new(a.runs_root, a.name)
            cfg.run_dir = run.path
            run.write_config(cfg.to_dict())
        task = Task(cfg.store, cfg.spaces, cfg.task_nets, cfg.validation_nets, cfg.seed, cfg.filter_nets)
        plan_tests(cfg, task)  # a test set that cannot be built fails now, not after the search
    except (ValueError, OSError) as e:
        sys.exit(f"error: {e}")
    print(f"run directory: {run.path}; spaces: {', '.join(task.spaces)} "
          f"({', '.join(str(len(v)) for v in task.nets.values())} networks)", flush=True)
    evo = Evolution(cfg, task, run, progress=not a.quiet)
    try:
        pop, hof = evo.run_all()
    except KeyboardInterrupt:
        print(f"\ninterrupted: generation {evo.gen} was not finished; the checkpoint holds the last finished one."
              f"\nresume with: python -m eznas.evolve --resume {run.path}")
        sys.exit(130)
    rows, md = finish(cfg, task, run, pop, hof, log=lambda m: print(m, flush=True))
    print("\nbest programs, ranked on validation networks the search never used (min tau over spaces):")
    for r in rows[:5]:
        print(f"  {r['function'] or '':9s} validation {r['validation_min_tau']:+.3f}  search {r['search_min_tau']:+.3f}  "
              f"{r['program']}")
    print("\nheld-out Kendall tau, programs beside baselines on the same networks:")
    print(md)
    print(f"\nexported programs (program_0 = best on validation): {run.file('programs.py')}")
    print(f"log, checkpoint, hall of fame, held-out table, fitness plot: {run.path}")


if __name__ == "__main__":
    main()
