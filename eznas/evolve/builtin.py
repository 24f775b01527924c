"""The built-in default task: NAS-Bench-201 on CIFAR-10 and CIFAR-100 (the accuracy table
shipped in eznas/data/nb201.csv.gz) and the project's two width spaces (bench_sss on clean
and on noisy digits), a topology space and a width space together so that a program that
reads only the cell layout cannot win the minimum over spaces.  Statistics are collected on
the fly into a local store; the search config is small (a few minutes on 2 cores)."""
import os
import time

from eznas.collection import collect_space, collection_config, sample_indices, store_key
from eznas.spaces.sources import PACKAGE_DATA, default_data, load_ground_truth
from stats_cache.store import SchemaError, StatsStore

DEFAULT_STORE = os.path.join("runs", "builtin-stats.zarr")
# (space, dataset): NB201 from the shipped table, the width spaces from their own tables
TASK = (("nb201", "cifar10"), ("nb201", "cifar100"), ("bench_sss", "digits"), ("bench_sss_noisy", "digits"))
DEFAULTS = {"generations": 6, "population": 20, "mu": 10, "lambda_": 20, "spaces_per_gen": 4,
            "nets_per_space": 0, "task_nets": 60, "validation_nets": 20, "jobs": 2}
# NB201 architectures outside the task set, ImageNet16-120 as a test-only dataset
DEFAULT_TESTS = ["nb201:cifar10:200", "nb201:cifar100:200", "nb201:imagenet16-120:200"]


def available():
    return [(s, d) for s, d in TASK if s == "nb201" or os.path.exists(os.path.join(PACKAGE_DATA, f"{s}.csv"))]


def _open(url, cfg, log):
    try:
        return StatsStore(url, "a", config=cfg)
    except SchemaError as e:
        if not os.path.isdir(url):
            raise
        # a cache from an older engine: set it aside (nothing is deleted) and collect again
        old = f"{url}.old-{time.strftime('%Y%m%d-%H%M%S')}"
        os.replace(url, old)
        log(f"{url} was written by an older engine ({e}); moved to {old}, collecting again")
        return StatsStore(url, "a", config=cfg)


def ensure_builtin_store(url, n, seed=0, progress=True, log=print):
    """Collect ``n`` networks of every built-in task space into ``url`` (skipping done
    ones); returns the store keys."""
    keys = []
    for space, dataset in available():
        cfg = collection_config(default_data(space), 1, seed, "float32", "rcb", "sum")
        gt = load_ground_truth(space, dataset)
        with _open(url, cfg, log) as store:
            collect_space(gt, store, sample_indices(len(gt), n, seed), seed, "cpu", progress)
        keys.append(store_key(space, dataset))
    return keys
