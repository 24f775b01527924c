"""A run's directory: resolved config, library versions, per-generation log, atomic
checkpoints, hall of fame and exported programs.  One search at a time: a search (or a
resume) holds ``<run>.lock`` beside the directory's real path for as long as it runs
(``stats_cache.locks``), and a second one is refused at once, naming the holder."""
import csv
import glob
import json
import os
import platform
import time
from contextlib import contextmanager

from stats_cache.locks import hold, lock_file


def atomic_write(path, text):
    """Write ``text`` to ``path`` through a temporary file and a rename: a reader (or a
    resume after a kill) sees the old file or the new one, never half of one."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def read_json(path, what):
    """The JSON object in ``path``; ValueError naming the file when it is missing, corrupt
    or not an object (``what`` says what it should be: 'run config', 'checkpoint', ...).
    Corrupt includes what ``json`` raises other than JSONDecodeError: bytes that are not
    UTF-8, an integer longer than Python converts (4300 digits), nesting deeper than the
    recursion limit."""
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except FileNotFoundError:
        raise ValueError(f"{path}: missing (not a run directory?)") from None
    except (ValueError, RecursionError) as e:  # bad JSON or UTF-8, an integer over Python's digit limit, nesting
        raise ValueError(f"{path}: corrupt {what} ({type(e).__name__}: {str(e)[:200]})") from None
    if not isinstance(d, dict):
        raise ValueError(f"{path}: corrupt {what} (not a JSON object)")
    return d


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_tmp(folder):
    """Delete ``*.tmp-PID`` files left in ``folder`` by killed processes (never the only
    copy of anything: the rename had not happened)."""
    for p in glob.glob(os.path.join(folder, "*.tmp-*")):
        pid = p.rsplit(".tmp-", 1)[1]
        if pid.isdigit() and not _alive(int(pid)):
            os.remove(p)


def versions():
    import deap
    import numpy
    import scipy
    import torch
    import zarr

    from eznas.collection import COLLECT_THREADS
    from eznas.version import __version__

    return {"python": platform.python_version(), "eznas": __version__, "torch": torch.__version__,
            "deap": deap.__version__, "numpy": numpy.__version__, "scipy": scipy.__version__, "zarr": zarr.__version__,
            "platform": platform.platform(),
            # what can still make statistics differ between machines with equal versions: the
            # CPU kernels torch dispatches to (AVX2 / AVX512 sum in other orders); collection
            # runs on COLLECT_THREADS torch threads whatever the core count
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpu": _cpu_model(),
            "collect_threads": COLLECT_THREADS}


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), platform.processor())
    except OSError:
        return platform.processor()


class RunDir:
    LOG_COLUMNS = ["gen", "best", "median", "best_validation", "valid_offspring", "offspring", "evaluated", "seconds", "best_program"]

    STARTED = ("config.json", "versions.json")  # what a run holds before its search starts

    def __init__(self, path, create=True):
        self.path = str(path)
        if not create and not os.path.isfile(os.path.join(self.path, "config.json")):
            raise ValueError(f"--resume {self.path}: no config.json there (not a run directory)")
        self.created = not os.path.exists(self.path)  # made by this object (a failed start may remove it)
        os.makedirs(self.path, exist_ok=True)
        remove_stale_tmp(self.path)
        self._locks = []

    def hold(self):
        """Take the run's lock (re-entrant within a process; ``release`` once per
        ``hold``); ValueError naming the directory and the holder when another process
        searches in it."""
        self._locks.append(hold(self.path, "another eznas evolve is searching in this run directory"))

    def release(self):
        if self._locks:
            self._locks.pop().release()

    @contextmanager
    def held(self):
        self.hold()
        try:
            yield self
        finally:
            self.release()

    def remove_if_unstarted(self):
        """Remove the directory when this object made it and it holds nothing but what a
        run writes before its search starts (config.json, versions.json): a search that
        failed to start leaves no directory behind.  A directory that existed before, or
        holds anything else (a checkpoint, a log), is kept.  True when removed."""
        if not self.created or not os.path.isdir(self.path):
            return False
        remove_stale_tmp(self.path)
        if not set(os.listdir(self.path)) <= set(self.STARTED):
            return False
        lock = lock_file(self.path)
        for name in os.listdir(self.path):
            os.remove(self.file(name))
        os.rmdir(self.path)
        if self._locks and os.path.exists(lock):
            os.remove(lock)  # its lock file goes with it (held until released)
        return True

    @classmethod
    def new(cls, root="runs", name=None):
        name = name or time.strftime("%Y%m%d-%H%M%S")
        path = os.path.join(root, name)
        k = 1
        while os.path.exists(path):
            path = os.path.join(root, f"{name}-{k}")
            k += 1
        return cls(path)

    def file(self, name):
        return os.path.join(self.path, name)

    def write_config(self, cfg_dict):
        atomic_write(self.file("config.json"), json.dumps(cfg_dict, indent=2, sort_keys=True))
        atomic_write(self.file("versions.json"), json.dumps(versions(), indent=2))

    def read_config(self):
        return read_json(self.file("config.json"), "run config")

    def save_checkpoint(self, state):
        atomic_write(self.file("checkpoint.json"), json.dumps(state))

    def load_checkpoint(self):
        if not os.path.exists(self.file("checkpoint.json")):
            return None
        return read_json(self.file("checkpoint.json"), "checkpoint")

    def write_log(self, rows):
        import io

        buf = io.StringIO()
        w = csv.DictWriter(buf, self.LOG_COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow(r)
        atomic_write(self.file("log.csv"), buf.getvalue())

    def write_json(self, name, obj):
        atomic_write(self.file(name), json.dumps(obj, indent=2))
