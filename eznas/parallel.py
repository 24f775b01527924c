"""Network-major program evaluation, spread over joblib workers.

Workers receive program strings and a store URL, never DEAP objects; each worker opens the
store once (cached per process) and loads each of its networks once, evaluating every
program on it.  Scores are deterministic, so results do not depend on the worker count.
Backends: 'loky' (local processes, default), 'threading', 'sequential', or 'dask'
(joblib's dask backend; pass a scheduler address).
"""
import contextlib
import math

import numpy as np
from joblib import Parallel, delayed, parallel_config

from eznas.program import OpError, kinds_used, parse, score_network

_STORES = {}


def open_store(url):
    from stats_cache.store import StatsStore

    if url not in _STORES:
        _STORES[url] = StatsStore(url, "r")
    return _STORES[url]


def score_chunk(store_url, programs, items, how="mean", threads=None):
    """Scores (len(programs), len(items)); NaN marks an op error or a non-finite score."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    store = open_store(store_url)
    prefixes = [parse(p) for p in programs]
    kinds = sorted({k for p in prefixes for k in kinds_used(p)})
    out = np.full((len(programs), len(items)), np.nan)
    for j, (space, key) in enumerate(items):
        groups = store.read_network(space, key, kinds).groups
        for i, p in enumerate(prefixes):
            try:
                v = score_network(p, groups, how)
            except OpError:
                continue
            if math.isfinite(v):
                out[i, j] = v
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


def score_items(store_url, programs, items, jobs=1, how="mean"):
    """Scores of ``programs`` on ``items`` [(space, key)], network-major, ``jobs`` workers."""
    if not programs or not items:
        return np.zeros((len(programs), len(items)))
    if jobs == 1:
        return score_chunk(store_url, programs, items, how)
    n_chunks = min(len(items), jobs * 4)
    chunks = [items[k::n_chunks] for k in range(n_chunks)]
    parts = Parallel(n_jobs=jobs)(delayed(score_chunk)(store_url, programs, c, how, 1) for c in chunks)
    out = np.empty((len(programs), len(items)))
    for k, part in enumerate(parts):
        out[:, k::n_chunks] = part
    return out
