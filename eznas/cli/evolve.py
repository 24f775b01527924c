"""Discover zero-cost proxies by genetic programming (EZNAS).

    eznas evolve                                   # the built-in task, a few minutes on 2 cores
    eznas evolve --store runs/stats.zarr --generations 15 --jobs 2 --test nb201:cifar10:1000
    eznas evolve --config overnight                # a shipped preset (eznas/presets/): the paper's search
    eznas evolve --resume runs/<run>               # continue an interrupted run

With no store: a real, small search on the built-in task, real benchmarks only (NB201
CIFAR-10/100, TransNAS-Bench-101 macro and micro on class_object / class_scene,
NAS-Bench-101; statistics collected on the fly into runs/builtin-real-stats.zarr); a preset
searches the same task with its own settings and store.  Otherwise give a
statistics store (eznas collect) and optionally a TOML config of the fields below; flags
override the config, which overrides the paper's defaults.  Every run writes runs/<time>/
with config.json, versions.json, log.csv, checkpoint.json, hall_of_fame.json, heldout.md,
fitness.png and programs.py (program_0 = best on validation networks), and the store's
absolute path and identity in config.json: a resume (or score --exclude RUN) that finds
another store there is refused.  One search per run directory: a second is refused while
the first runs.  Ctrl-C stops after the last finished generation's checkpoint; --resume
continues it.
"""
import dataclasses
import logging

HELP = "search for proxies (the built-in task when no --store is given)"
log = logging.getLogger("eznas.evolve")

# what a resumed run may change: more generations, and how (not what) it computes
RESUME_OVERRIDES = ("generations", "jobs", "backend", "scheduler", "cache_mb", "batch_mb")
LISTS = ("spaces", "tests", "seed_programs")


def config_flags():
    """{field: type} of the Config fields settable by a flag."""
    from eznas.evolve.config import Config

    return {f.name: {"int": int, "float": float, "str": str}[f.type if isinstance(f.type, str) else f.type.__name__]
            for f in dataclasses.fields(Config) if f.name not in LISTS + ("run_dir", "store_identity")}


def add_arguments(p):
    from eznas.evolve import builtin
    from eznas.evolve.config import HELP as FIELD_HELP
    from eznas.evolve.config import Config

    p.add_argument("--config", help="TOML file with config fields (the flags below), or a preset name: "
                   + ", ".join(builtin.presets()) + " (eznas/presets/NAME.toml)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run (only "
                   + ", ".join("--" + k.replace("_", "-") for k in RESUME_OVERRIDES) + " may change)")
    p.add_argument("--runs-root", default="runs", help="where run directories are made")
    p.add_argument("--name", help="run directory name (default: the start time)")
    p.add_argument("--spaces", help="comma-separated store keys (default: all in the store)")
    p.add_argument("--test", action="append", metavar="SPACE:DATASET:N",
                   help="a held-out test set scored after the run, disjoint from the task's networks, e.g. "
                        "nb201:imagenet16-120:500 (repeatable; statistics streamed, nothing stored; "
                        f"built-in task: {' '.join(builtin.DEFAULT_TESTS)})")
    g = p.add_argument_group("search settings (default: the paper's; the built-in task's in brackets)")
    defaults = Config()
    for k, t in config_flags().items():
        b = f" [{builtin.DEFAULTS[k]}]" if k in builtin.DEFAULTS else ""
        g.add_argument("--" + k.rstrip("_").replace("_", "-"), dest=k, type=t, default=None, metavar=t.__name__.upper(),
                       help=f"{FIELD_HELP[k]} (default: {getattr(defaults, k)!r}{b})".replace("%", "%%"))


def config_from(a):
    """(Config, RunDir) from parsed arguments: a resumed run's stored config with the
    allowed changes, or a new run (the built-in task when no store or config is given).
    The RunDir is held (its lock taken before anything is written): release it."""
    from eznas.evolve.config import Config
    from eznas.evolve.rundir import RunDir
    from stats_cache.store import absolute_url

    flags = config_flags()
    if a.resume:
        run = RunDir(a.resume, create=False)
        run.hold()  # before anything is read or written: one search per run directory
        try:
            stored = run.read_config()
            changed = {k: getattr(a, k) for k in RESUME_OVERRIDES if getattr(a, k) is not None}
            ignored = [k for k in flags if k not in RESUME_OVERRIDES and getattr(a, k) is not None]
            if ignored:
                raise ValueError(f"--resume keeps the run's config; only {sorted(RESUME_OVERRIDES)} may change (got {ignored})")
            # checked before anything is written; the search writes the changes once it has
            # checked the store
            cfg = Config.from_sources(overrides={**stored, **changed},
                                      origin={k: run.file("config.json") for k in stored if k not in changed})
        except BaseException:
            run.release()
            raise
        return cfg, run
    from eznas.cli import output_path

    output_path(a.runs_root, "--runs-root", folder=True)  # before the built-in task's collection
    over = {k: getattr(a, k) for k in flags}
    if a.spaces:
        over["spaces"] = a.spaces.split(",")
    if a.test:
        over["tests"] = a.test
    from eznas.evolve import builtin as B

    config = B.preset_path(a.config) if a.config else None
    # the built-in task (statistics collected on the fly): no config, or a shipped preset
    # that names no store; a user's TOML names its store (or --store does)
    builtin = not a.store and (not config or (B.is_preset(config) and not B.toml_store(config)))
    if builtin:
        over = {k: v for k, v in over.items() if v is not None}
        if not config:  # no config: the built-in task's small search; a preset says its own
            over = {**B.DEFAULTS, **over}
            over.setdefault("tests", B.DEFAULT_TESTS)
        over["store"] = B.preset_store(a.config) if config else B.DEFAULT_STORE
    cfg = Config.from_sources(config, over)
    if builtin:
        cfg.spaces = cfg.spaces or B.ensure_builtin_store(cfg.store, cfg.task_nets, cfg.seed, not a.quiet, log.info)
    cfg.store = absolute_url(cfg.store)  # a relative path: from where the run was started
    run = RunDir.new(a.runs_root, a.name)
    run.hold()
    cfg.run_dir = run.path
    try:
        run.write_config(cfg.to_dict())
    except BaseException:
        run.release()
        raise
    return cfg, run


def run(a):
    from eznas.evolve.search import search

    cfg, rundir = config_from(a)  # holds the run directory's lock
    try:
        result = search(cfg, rundir, progress=not a.quiet)
    finally:
        rundir.release()
    if cfg.rank_on == "task":
        print("\nbest programs, ranked on every task network (min + mean over spaces of tau; the test sets are the "
              "networks no part of the search saw):")
    else:
        print("\nbest programs, ranked on validation networks the search never used (min tau over spaces):")
    for r in result.rows[:5]:
        task = f"task {r['task_min_tau']:+.3f}  " if cfg.rank_on == "task" else ""
        print(f"  {r['function'] or '':9s} {task}validation {r['validation_min_tau']:+.3f}  search "
              f"{r['search_min_tau']:+.3f}  {r['program']}")
    print("\nheld-out Kendall tau, programs beside baselines on the same networks:")
    print(result.heldout)
    print(f"\nexported programs (program_0 = ranked first): {rundir.file('programs.py')}")
    print(f"log, checkpoint, hall of fame, held-out table, fitness plot: {rundir.path}")
    print(f"\n{result.verdict}")
