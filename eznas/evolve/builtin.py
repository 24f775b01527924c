"""The built-in default task: real benchmarks only, of four structurally different spaces
whose accuracy tables ship in the package (eznas/data/SOURCES.md): NAS-Bench-201 (a cell
space; CIFAR-10 and CIFAR-100), TransNAS-Bench-101 macro (ResNet skeletons, where #params
ranks at tau 0.04) and micro (cells), each on its two classification tasks (class_object,
class_scene), and NAS-Bench-101 (CIFAR-10).  A program must rank all seven, so neither a
size count nor one family's layout wins the minimum over spaces.  The project's digit
spaces (bench_*) stay out of it: they are fixtures for tests and offline demos.
Statistics are collected on the fly into a local store; the search config is small (a
few minutes on 2 cores; BENCHMARKS.md, "Main job")."""
import os
import time

from eznas.collection import collect_space, collection_config, sample_indices, store_key
from eznas.spaces.sources import default_data, load_ground_truth, space_max_channels, space_pattern
from stats_cache.store import SchemaError, StatsStore

# a new name for the real-benchmark task: a store of the earlier default task (NB201 and the digit
# spaces, 60 networks) would otherwise lend its networks to this one's sample
DEFAULT_STORE = os.path.join("runs", "builtin-real-stats.zarr")
TASK = (("nb201", "cifar10"), ("nb201", "cifar100"), ("tnb101_macro", "class_object"), ("tnb101_macro", "class_scene"),
        ("tnb101_micro", "class_object"), ("tnb101_micro", "class_scene"), ("nb101", "cifar10"))
DEFAULTS = {"generations": 6, "population": 20, "mu": 10, "lambda_": 20, "spaces_per_gen": len(TASK),
            "nets_per_space": 0, "task_nets": 40, "validation_nets": 12, "jobs": 2, "size_factor": "flops",
            "rank_on": "task"}
# a test row outside the task set for every space, and the test-only datasets (NB201 ImageNet16-120)
DEFAULT_TESTS = ["nb201:cifar10:100", "nb201:cifar100:100", "nb201:imagenet16-120:100",
                 "tnb101_macro:class_object:60", "tnb101_macro:class_scene:60",
                 "tnb101_micro:class_object:60", "tnb101_micro:class_scene:60", "nb101:cifar10:60"]
# eznas evolve --config overnight: eznas/presets/overnight.toml


PRESETS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "presets")


def presets():
    return sorted(f[:-5] for f in os.listdir(PRESETS) if f.endswith(".toml"))


def preset_path(name):
    """``--config`` NAME: a TOML file, else a preset shipped in eznas/presets/."""
    if os.path.isfile(name):
        return name
    path = os.path.join(PRESETS, f"{name}.toml")
    if os.sep not in name and os.path.isfile(path):
        return path
    raise ValueError(f"--config {name}: no such file, and no preset of that name (presets: {', '.join(presets())})")


def is_preset(path):
    return os.path.dirname(os.path.abspath(path)) == os.path.abspath(PRESETS)


def preset_store(name):
    """Where a preset without a store collects the built-in task: its own store, so that the
    main job's store (and table) is not changed by it."""
    base = os.path.splitext(os.path.basename(name))[0]
    return os.path.join("runs", f"{base}-stats.zarr")


def toml_store(path):
    """The ``store`` field of a TOML config ('' when it has none)."""
    import tomllib

    try:
        with open(path, "rb") as f:
            return str(tomllib.load(f).get("store", ""))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"--config {path}: {e}") from None


def available():
    return list(TASK)


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
    if os.path.isdir(url):
        try:
            held = StatsStore(url, "r")
            seeds = {k: held.space_config(k).get("seed") for k in held.spaces()}
        except (SchemaError, ValueError, OSError):
            seeds = {}  # an older or damaged store: _open and the store's own checks say what to do
        other = sorted(k for k, v in seeds.items() if v is not None and v != seed)
        if other:
            raise ValueError(f"{url} holds the networks and statistics of seed {seeds[other[0]]} ({', '.join(other)}); "
                             f"to search them with seed {seed}, name a config and the store: --config <preset or TOML> "
                             f"--store {url} (a search seed draws its own search / validation split and test sets)")
    for space, dataset in available():
        cfg = collection_config(default_data(space), 1, seed, "float32", space_pattern(space), "sum",
                                max_channels=space_max_channels(space))
        gt = load_ground_truth(space, dataset)
        with _open(url, cfg, log) as store:
            collect_space(gt, store, sample_indices(len(gt), n, seed), seed, "cpu", progress)
        keys.append(store_key(space, dataset))
    return keys


def seen_archs(space):
    """Architecture ids of ``space`` that a shipped proxy (eznas/discovered.py) was evolved or
    ranked on: the built-in task's networks of its search.  Its figures are honest only on
    other networks, so test sets leave these out."""
    from eznas.discovered import DISCOVERED

    out = set()
    for d in DISCOVERED.values():
        for sp, ds in TASK:
            if sp == space:
                gt = load_ground_truth(sp, ds)
                out |= {str(gt.archs[i]) for i in sample_indices(len(gt), d["task_nets"], d["seed"])}
    return out
