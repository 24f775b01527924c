"""Network-major program evaluation, spread over joblib workers.

Workers receive program strings and a store URL, never DEAP objects; each worker opens the
store once (cached per process) and loads each of its networks once, evaluating every
program on it.  Scores are deterministic, so results do not depend on the worker count.
Backends: 'loky' (local processes, default), 'threading', 'sequential', or 'dask'
(joblib's dask backend; pass a scheduler address).
"""
import contextlib
from collections import OrderedDict

import numpy as np
from joblib import Parallel, delayed, parallel_config

from eznas.batch import NetBatch
from eznas.program import kinds_used, parse, split_factor

CACHE_MB = 1024  # decoded statistics kept between generations, per worker (the one default; Config reads it)
_WATCHDOG = []  # this worker's parent watch thread, once started


def exit_with_parent(poll_s=0.5):
    """In a worker process, end it as soon as its parent dies (a killed run would
    otherwise leave loky's idle workers, and their memory, for five minutes).  A no-op in
    the main process."""
    import multiprocessing
    import os
    import threading
    import time

    if _WATCHDOG or multiprocessing.parent_process() is None:
        return
    parent = os.getppid()

    def watch():
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                os._exit(1)

    t = threading.Thread(target=watch, daemon=True, name="eznas-exit-with-parent")
    t.start()
    _WATCHDOG.append(t)


def _bytes(tensors):
    return sum(t.numel() * t.element_size() for t in tensors)


def _nbytes(groups):
    return _bytes(v for _, env in groups for v in env.values())


class NetworkCache:
    """A process's reader: its open stores, and an LRU of decoded statistics kept per
    (network, kind): a program that reads two kinds of a NB201 network holds 2/22 of it,
    so a whole search's networks usually fit.  Networks are evicted least recently used
    first.  Each worker process has one (``WORKER_CACHE``)."""

    def __init__(self):
        self.clear()

    def clear(self):
        import threading

        self.lock = threading.Lock()  # the 'threading' backend shares one cache between workers
        self.entries = OrderedDict()  # (url, space, key) -> (layer indices per group, {kind: [tensor per group]})
        self.nbytes = 0
        self.stores = {}  # url -> open StatsStore
        self.records = {}  # (url, space) -> {key: network attrs}, read once (times_flops programs)

    def store(self, url):
        from stats_cache.store import StatsStore

        if url not in self.stores:
            self.stores[url] = StatsStore(url, "r")
        return self.stores[url]

    def record(self, url, space, key):
        """A network's stored attributes (flops, params, accuracy, ...)."""
        with self.lock:
            if key not in self.records.get((url, space), {}):  # first use, or networks added since
                self.records[(url, space)] = self.store(url).network_attrs(space)
            return self.records[(url, space)][key]

    def get(self, url, space, key, kinds, cache_mb):
        with self.lock:
            return self._get(url, space, key, kinds, cache_mb)

    def _get(self, url, space, key, kinds, cache_mb):
        ck = (url, space, key)
        idx, have = self.entries.get(ck, (None, {}))
        missing = [k for k in kinds if k not in have]
        if missing:
            groups = self.store(url).read_network(space, key, missing).groups
            idx = [i for i, _ in groups]
            add = {}
            for k in missing:
                ts = [env[k] for _, env in groups]
                if ts and ts[0].untyped_storage().nbytes() > sum(t.numel() for t in ts) * ts[0].element_size():
                    ts = [t.clone() for t in ts]  # a view of a whole-family read: keep only this kind
                add[k] = ts
            size = _bytes(t for ts in add.values() for t in ts)
            if size * 4 > cache_mb * 2**20:  # too big to keep: use once
                return [(i, {k: (have.get(k) or add[k])[j] for k in kinds}) for j, i in enumerate(idx)]
            have = {**have, **add}
            self.nbytes += size
        self.entries[ck] = (idx, have)
        self.entries.move_to_end(ck)
        while self.nbytes > cache_mb * 2**20 and len(self.entries) > 1:
            _, (_, old) = self.entries.popitem(last=False)
            self.nbytes -= _bytes(t for ts in old.values() for t in ts)
        return [(i, {k: have[k][j] for k in kinds}) for j, i in enumerate(idx)]


WORKER_CACHE = NetworkCache()  # this process's reader (each joblib / dask worker has its own)


def read_groups(url, space, key, kinds, cache_mb=CACHE_MB):
    """A network's groups restricted to ``kinds``, through this process's cache of at most
    ``cache_mb`` (kinds not yet cached are read; a network whose kinds exceed a quarter of
    the cache is read and not kept)."""
    return WORKER_CACHE.get(url, space, key, kinds, cache_mb)


BATCH_MB = 256  # statistics gathered per evaluation batch, per worker (the one default; Config reads it)
CHUNK_NETS = 10  # networks per unit of work handed to a worker


def score_chunk(store_url, programs, items, how="mean", threads=None, batch_mb=BATCH_MB, cache_mb=CACHE_MB):
    """Scores (len(programs), len(items)); NaN marks an op error or a non-finite score.

    Networks are read one at a time (only the kinds the programs use) and gathered into a
    ``NetBatch`` until ``batch_mb`` of statistics is held; every program is then run on
    the batch, and the batch is dropped.  Peak memory is about twice the budget, whatever
    the number of networks."""
    import torch

    exit_with_parent()
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads or 1)  # one thread everywhere: bitwise the same sums whatever the worker count
    try:
        return _score_chunk(store_url, programs, items, how, batch_mb, cache_mb)
    finally:
        torch.set_num_threads(old_threads)


def _score_chunk(store_url, programs, items, how, batch_mb, cache_mb):
    prefixes = [parse(p) for p in programs]
    kinds = sorted({k for p in prefixes for k in kinds_used(p)})
    factors = {split_factor(p)[1] for p in prefixes} - {None}
    out = np.full((len(programs), len(items)), np.nan)
    pending, cols, held = [], [], 0

    def flush():
        records = [WORKER_CACHE.record(store_url, *items[j]) for j in cols] if factors else None
        batch = NetBatch(pending, records)
        for i, p in enumerate(prefixes):
            out[i, cols] = batch.scores(p, how)
        pending.clear()
        cols.clear()

    for j, (space, key) in enumerate(items):
        groups = read_groups(store_url, space, key, kinds, cache_mb)
        pending.append(groups)
        cols.append(j)
        held += _nbytes(groups)
        if held >= batch_mb * 2**20:
            flush()
            held = 0
    if pending:
        flush()
    return out


@contextlib.contextmanager
def backend(name="loky", scheduler=None):
    if name == "dask":
        from distributed import Client

        client = Client(scheduler) if scheduler else Client(processes=False)
        try:
            with parallel_config(backend="dask"):
                yield
        finally:
            client.close()
    else:
        with parallel_config(backend=name):
            yield


def score_items(store_url, programs, items, jobs=1, how="mean", batch_mb=BATCH_MB, cache_mb=CACHE_MB):
    """Scores of ``programs`` on ``items`` [(space, key)], network-major, ``jobs`` workers
    (each with its own cache of ``cache_mb`` and batches of ``batch_mb``)."""
    if not programs or not items:
        return np.zeros((len(programs), len(items)))
    # chunks (and so the batches of networks evaluated together) do not depend on ``jobs``
    bounds = list(range(0, len(items), CHUNK_NETS)) + [len(items)]
    chunks = [items[a:b] for a, b in zip(bounds, bounds[1:])]
    if jobs == 1:
        parts = [score_chunk(store_url, programs, c, how, 1, batch_mb, cache_mb) for c in chunks]
    else:
        parts = Parallel(n_jobs=jobs)(delayed(score_chunk)(store_url, programs, c, how, 1, batch_mb, cache_mb)
                                      for c in chunks)
    return np.concatenate(parts, axis=1)
