"""The search as one call: config in, run directory and ranked programs out (what
``eznas evolve`` runs; usable from a notebook or another codebase)."""
import logging
import os
from dataclasses import dataclass

from eznas.evolve.algorithm import Evolution
from eznas.evolve.config import Config
from eznas.evolve.finish import finish, plan_tests
from eznas.evolve.rundir import RunDir
from eznas.evolve.task import Task
from stats_cache.store import absolute_url, other_store

log = logging.getLogger("eznas.evolve")


@dataclass
class SearchResult:
    run_dir: str
    rows: list  # hall of fame, best on validation networks first (hall_of_fame.json "programs")
    heldout: str  # the held-out table (markdown), as in heldout.md, without its verdict line
    verdict: str = ""  # program_0 against #params, FLOPs and the other baselines on the held-out rows

    @property
    def programs_file(self):
        return os.path.join(self.run_dir, "programs.py")


def _start(cfg):
    """The task of ``cfg``, every input checked: the store and its spaces, the size
    factor's attribute on every task network, the test sets (failing now, not in a worker
    or after the search)."""
    task = Task(cfg.store, cfg.spaces, cfg.task_nets, cfg.validation_nets, cfg.seed, cfg.filter_nets)
    if cfg.size_factor:  # every task network must carry the factor's attribute: fail now, not in a worker
        lacking = [(s, k) for s in task.spaces for k, a in task.attrs[s].items() if a.get(cfg.size_factor) is None]
        if lacking:
            raise ValueError(f"config field 'size_factor' is {cfg.size_factor!r}, but {len(lacking)} networks of "
                             f"{cfg.store} have no recorded {cfg.size_factor} (e.g. {lacking[0][0]}/{lacking[0][1]}); "
                             f"collect them with eznas collect, or set size_factor = ''")
    plan_tests(cfg, task)  # a test set that cannot be built fails now, not after the search
    return task


def search(cfg, run=None, progress=True):
    """Run (or resume) the search ``cfg`` (a Config, or a dict of its fields) in ``run``
    (a RunDir or a path; default: a new directory under runs/).  A run directory holding a
    checkpoint is resumed, on the store it started on: a run records its store's absolute
    URL and identity (``StatsStore.identity``) at its start, and a resume that finds
    another store there is refused (ValueError naming both).  The run directory is locked
    for the whole search: a second search in it is refused at once.  A search that fails
    to start (a missing store, a bad test set) removes the directory made for it, when it
    holds nothing else.  Returns a SearchResult."""
    if isinstance(cfg, dict):
        cfg = Config.from_sources(overrides=cfg)
    if not cfg.store:
        raise ValueError("config field 'store' is empty: collect statistics first (eznas collect), "
                         "or run the built-in task with `eznas evolve`")
    if run is None or not isinstance(run, RunDir):
        run = RunDir.new() if run is None else RunDir(run)
    with run.held():
        return _search(cfg, run, progress)


def _search(cfg, run, progress):
    if cfg.run_dir != run.path:
        cfg.run_dir = run.path
    started = os.path.exists(run.file("checkpoint.json"))
    recorded = _stored(run) or {}
    if not cfg.store_identity and isinstance(recorded.get("store_identity"), dict):
        cfg.store_identity = recorded["store_identity"]  # a resume from Python: the store the run recorded
    if not cfg.store_identity and not started:  # a new run: its store as an absolute URL, from here
        cfg.store = absolute_url(cfg.store)
    try:
        if not os.path.exists(run.file("config.json")):
            run.write_config(cfg.to_dict())
        task = _start(cfg)
        check_store(cfg, run, task, started)
        if _stored(run) != cfg.to_dict():  # what this search runs (a resume's changes, the store's identity)
            run.write_config(cfg.to_dict())
    except Exception:  # a failed start leaves no run directory behind (one made for it, still unstarted)
        run.remove_if_unstarted()
        raise
    log.info(f"run directory: {run.path}; spaces: {', '.join(task.spaces)} "
             f"({', '.join(str(len(v)) for v in task.nets.values())} networks)")
    evo = Evolution(cfg, task, run, progress=progress)
    try:
        pop, hof = evo.run_all()
    except KeyboardInterrupt:
        log.error(f"interrupted: generation {evo.gen} was not finished; the checkpoint holds the last finished one; "
                  f"resume with: eznas evolve --resume {run.path}")
        raise
    rows, md = finish(cfg, task, run, pop, hof, log=log.info, progress=progress)
    table, _, verdict = md.rpartition("\n\n")
    return SearchResult(run.path, rows, table, verdict)


def _stored(run):
    """The run's config.json as it is (None when missing or unreadable)."""
    if not os.path.exists(run.file("config.json")):
        return None
    try:
        return run.read_config()
    except ValueError:
        return None


def check_store(cfg, run, task, started):
    """Record the identity of the task's store in a new run (``cfg.store_identity``), or
    check that a resumed run reads the store it started on: ValueError naming both and
    what differs.  A run started before identities were recorded is resumed unchecked,
    with a warning."""
    now = task.identity
    if cfg.store_identity:
        why = other_store(cfg.store_identity, now)
        if why:
            raise ValueError(f"{run.file('config.json')}: {why}; resume the run on the store it started on "
                             "(nothing was changed)")
    elif started:
        log.warning(f"{run.file('config.json')}: the run was started before runs recorded their store's identity; "
                    f"store {cfg.store} (read as {now['url']}) is not checked to be the one it started on")
    else:
        cfg.store_identity = now
