"""The built-in default: the project's own benchmark (eznas/data/bench_*.csv), whose
statistics are collected on the fly into a local store, and a small search config."""
import os
import time

from eznas.collect import collect_space, collection_config, sample_indices
from eznas.spaces.sources import BUILTIN, PACKAGE_DATA, load_ground_truth
from stats_cache.store import SchemaError, StatsStore

DEFAULT_STORE = os.path.join("runs", "builtin-stats.zarr")
DEFAULTS = {"generations": 6, "population": 20, "mu": 10, "lambda_": 20, "spaces_per_gen": 2,
            "nets_per_space": 20, "task_nets": 60}


def available_spaces():
    return [s for s in BUILTIN if os.path.exists(os.path.join(PACKAGE_DATA, f"{s}.csv"))]


def ensure_builtin_store(url, n, seed=0, progress=True):
    """Collect ``n`` networks of every built-in space into ``url`` (skipping done ones);
    returns the store keys."""
    cfg = collection_config("digits", 1, seed, "float32", "rcb", "sum")
    try:
        store = StatsStore(url, "a", config=cfg)
    except SchemaError as e:
        if not os.path.isdir(url):
            raise
        # a cache from an older engine: set it aside (nothing is deleted) and collect again
        old = f"{url}.old-{time.strftime('%Y%m%d-%H%M%S')}"
        os.replace(url, old)
        print(f"{url} was written by an older engine ({e}); moved to {old}, collecting again")
        store = StatsStore(url, "a", config=cfg)
    keys = []
    for space in available_spaces():
        gt = load_ground_truth(space)
        collect_space(gt, store, sample_indices(len(gt), n, seed), seed, "cpu", progress)
        keys.append(f"{space}-digits")
    return keys
