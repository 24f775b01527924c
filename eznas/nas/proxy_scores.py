"""Proxy scores of a space's networks, computed once and kept on disk.

One CSV per (proxy, space, dataset, table, data, batch size, scoring seed, device type),
the same rows and settings record ``eznas score`` writes (so a cache file is also a score
report's input): ``<cache_dir>/<space>-<dataset>/<name>-<hash>.csv``.  A network's score
depends only on those settings (its weights are seeded by its row in the table, whose
architecture list is part of the key), never on the search that asks for it, so every NAS
seed and every rerun reads the same numbers and pays only for networks no earlier run
scored.  Each row also records the seconds its network took (build +
proxy), so a search can say what its proxy evaluations cost on this machine.
"""
import hashlib
import json
import logging
import math
import os
import re

import numpy as np
from filelock import FileLock

from eznas.baselines import BATCH_SIZE, check_batch
from eznas.rowlog import appending, read_rows
from stats_cache.locks import lock_file
from eznas.score import (COLUMNS, Scoring, check_settings, layer_settings, make_scorer, proxy_identity, proxy_text,
                         score_space)

log = logging.getLogger("eznas.nas")

PARALLEL_FROM = 50  # networks missing at once from which they are scored by ``jobs`` processes


def proxy_name(proxy):
    """A short readable name for a proxy: a baseline's name, a run's ``<run>-program_k``,
    a file's stem, else ``program``."""
    if re.fullmatch(r"\w+", proxy):
        return proxy
    head, _, tail = proxy.rstrip("/").rpartition(":")
    if os.path.isdir(proxy) or os.path.isdir(head):
        run = os.path.basename((head if os.path.isdir(head) else proxy).rstrip("/"))
        return f"{run}-{tail if os.path.isdir(head) else 'program_0'}"
    if ".py" in proxy:
        return os.path.basename(proxy.partition(".py")[0])
    return "program"


class ProxyScores:
    """Scores of ``proxy`` for the networks of ``gt`` (a benchmarks.GroundTruth), by index;
    missing ones are computed (``jobs`` processes for large batches) and appended to the
    cache file, under a lock so that concurrent searches can share it."""

    def __init__(self, proxy, gt, cache_dir, data, batch_size=None, seed=0, jobs=1, device="cpu"):
        self.spec = proxy
        self.proxy = proxy_text(proxy)  # what is computed (a run's default program: its string)
        make_scorer(self.proxy)  # a bad proxy fails here, before any work
        self.batch_size = batch_size or BATCH_SIZE.get(self.proxy, 1)
        check_batch(self.proxy, self.batch_size, fix="use --batch-size >= {need} (batch_size= from Python)")
        device = str(device)
        # one process on a GPU: the workers of ``jobs`` score on CPU, and CPU and GPU numbers differ slightly
        self.gt, self.data, self.seed, self.device = gt, data, seed, device
        self.jobs = jobs if device == "cpu" else 1
        table = hashlib.sha256("\n".join(map(str, gt.archs)).encode()).hexdigest()[:12]
        self.settings = {**proxy_identity(self.proxy), "space": gt.space, "dataset": gt.dataset, "table": table,
                         "data": data, "batch_size": self.batch_size, "seed": seed, "device": device.split(":")[0],
                         **layer_settings(gt)}
        digest = hashlib.sha256(json.dumps(self.settings, sort_keys=True).encode()).hexdigest()[:10]
        # named by what is computed, so that a run's program and its string share one file
        self.path = os.path.join(cache_dir, f"{gt.space}-{gt.dataset}", f"{proxy_name(self.proxy)}-{digest}.csv")
        self.name = proxy_name(proxy)
        self.scores, self.seconds = {}, {}
        self._scoring = None  # the scorer and batch, made on the first network scored here
        with self._lock():
            check_settings(self.path, self.settings, "--cache file")
            self._read()
        self.computed = 0  # networks this object scored (the rest came from the cache)

    def _lock(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        return FileLock(lock_file(self.path))  # waited for: searches share the cache; keyed on the real path

    def _file_size(self):
        return os.path.getsize(self.path) if os.path.exists(self.path) else 0

    def _read(self):
        self._size = self._file_size()
        for r in read_rows(self.path):
            self._keep(r)

    def _keep(self, r):
        i = self.gt.index.get(r["arch"])
        try:
            s, seconds = float(r["score"]), float(r["seconds"])
        except (TypeError, ValueError):  # a damaged row: scored again
            return
        if i is not None:
            self.scores[i] = s if math.isfinite(s) else -math.inf  # cannot apply: ranked last
            self.seconds[i] = seconds

    def cached(self, indices):
        """How many of the networks ``indices`` have a score in the cache (re-read when
        another scorer of the same file has appended to it)."""
        if self._file_size() != self._size:
            with self._lock():
                self._read()
        return sum(int(i) in self.scores for i in indices)

    def __call__(self, indices):
        """Scores of the networks ``indices`` (a list), larger = predicted better."""
        missing = sorted({int(i) for i in indices} - self.scores.keys())
        if missing:
            self._fill(missing)
        return np.array([self.scores[int(i)] for i in indices])

    def _fill(self, missing):
        with self._lock():
            if self._file_size() != self._size:
                self._read()  # another process scored some meanwhile
            missing = [i for i in missing if i not in self.scores]
            if len(missing) >= PARALLEL_FROM:
                log.info(f"scoring {len(missing)} networks not yet in the cache with {self.name} ({self.jobs} jobs) "
                         f"into {self.path}")
                score_space(self.proxy, self.gt, missing, self.path, self.data, self.batch_size, self.seed,
                            self.device, progress=log.isEnabledFor(logging.INFO), jobs=self.jobs,
                            settings=self.settings, what="--cache file")
                self._read()
            elif missing:
                if self._scoring is None:
                    self._scoring = Scoring(self.proxy, self.gt, self.data, self.batch_size, self.seed, self.device)
                with appending(self.path, COLUMNS) as write:
                    for row in self._scoring.rows(missing):
                        write(row)
                        self._keep(row)
                self._size = self._file_size()
        self.computed += len(missing)

    def cost(self, indices=None):
        """Seconds the networks ``indices`` took to build and score (as recorded when each
        was scored); without ``indices``, the mean over the cached networks."""
        if indices is None:
            return float(np.mean(list(self.seconds.values()))) if self.seconds else float("nan")
        return float(sum(self.seconds[i] for i in indices))
