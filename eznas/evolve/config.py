"""Run configuration: paper defaults (Appendix 8.7), a TOML file, then flags."""
import math
import re
import tomllib
from dataclasses import asdict, dataclass, field, fields

from eznas.parallel import BATCH_MB, CACHE_MB
from eznas.program import MAX_PROGRAM_DEPTH

# the deepest trees a search may make (min_depth, max_depth): DEAP's tree height, the root
# aggregation at height 0.  New trees grow about 1.3x per level (10: ~12 nodes, 20: ~60 on
# average, up to ~1000), so 1000 would never finish; the root, its height and an outer
# times_flops stay within the parser's MAX_PROGRAM_DEPTH nodes
MAX_SEARCH_DEPTH = 20
assert MAX_SEARCH_DEPTH + 2 <= MAX_PROGRAM_DEPTH


SEED_PROGRAMS = ("layer_mean(frobenius_norm(sigmoid(logdet(sign(T1G_D)))))",
                 "layer_sum(frobenius_norm(sigmoid(logdet(sign(T1G_D)))))",
                 "layer_mean(frobenius_norm(sigmoid(logdet(sign(T3G_N)))))")


HELP = {  # one line per field: the command line's help and the README's config table
    "generations": "generations (paper: 15)",
    "population": "population size (paper: 50)",
    "tournament": "tournament size of the selection (paper: 4)",
    "mu": "survivors kept by fitness each generation; the rest by tournament (paper: 25)",
    "lambda_": "offspring asked of DEAP's varOr each generation; only valid ones are kept (paper: 50)",
    "cxpb": "crossover probability (paper: 0.4)",
    "mutpb": "mutation probability (paper: 0.4)",
    "min_depth": f"minimum tree depth of new programs, 1 to {MAX_SEARCH_DEPTH} (paper: 2)",
    "max_depth": f"maximum tree depth, 1 to {MAX_SEARCH_DEPTH} (paper: 10)",
    "spaces_per_gen": "spaces drawn per generation, s (paper: 4)",
    "nets_per_space": "search networks per space per generation; 0 = all of them (paper: 20; see BENCHMARKS)",
    "task_nets": "networks per space in the task set (search + validation)",
    "validation_nets": "networks per space held out of the search: final ranking and reported figures only",
    "filter_nets": "search networks per space of the shape-only filter",
    "to_scalar": "how a layer's tensor becomes a number when a program leaves a tensor: mean or l2",
    "size_factor": "'flops': every program's network score is multiplied by the network's FLOPs (times_flops); '': as the paper",
    "rank_on": "how the final hall of fame is ranked (program_0 first): validation (min tau on validation networks) or task (minimum plus mean over spaces of tau on every task network, search and validation)",
    "seed": "seed of the search (sampling, variation, splits)",
    "jobs": "worker processes evaluating programs (results do not depend on it)",
    "backend": "loky, threading, sequential or dask",
    "scheduler": "dask scheduler address (backend dask); empty: a local cluster",
    "store": "statistics store path or fsspec URL (eznas collect); empty: the built-in task",
    "spaces": "store keys searched; empty: every space in the store",
    "seed_programs": "programs placed in the first population",
    "tests": "held-out test sets SPACE:DATASET:N scored after the run",
    "hof_size": "hall-of-fame size",
    "batch_mb": "statistics gathered per evaluation batch, per worker (MB)",
    "cache_mb": "decoded statistics kept between generations, per worker (MB)",
    "run_dir": "the run's directory (set by the command)",
    "store_identity": "the store the run started on: absolute URL, uuid and a digest of its task spaces' networks "
                      "(set by the search; a resume on another store is refused)",
}


@dataclass
class Config:
    generations: int = 15
    population: int = 50
    tournament: int = 4
    mu: int = 25  # survivors kept by fitness each generation; the rest by tournament
    lambda_: int = 50  # offspring asked of varOr (only valid ones are kept)
    cxpb: float = 0.4
    mutpb: float = 0.4
    min_depth: int = 2
    max_depth: int = 10
    spaces_per_gen: int = 4  # s
    nets_per_space: int = 0  # search networks per space per generation; 0 = all (BENCHMARKS: fitness noise)
    task_nets: int = 100  # networks per space in the task dataset (search + validation)
    validation_nets: int = 30  # per space, held out of the search: final ranking and reported figures only
    filter_nets: int = 2  # per space, search networks of the validity filter
    to_scalar: str = "mean"
    size_factor: str = ""  # "flops": programs are scored as times_flops(program) (BENCHMARKS: issue 24)
    rank_on: str = "validation"  # "task": rank the final programs on every task network (BENCHMARKS: issue 24)
    seed: int = 0
    jobs: int = 1
    backend: str = "loky"
    scheduler: str = ""
    store: str = ""  # statistics store URL; empty: the built-in default store in the run dir
    spaces: list = field(default_factory=list)  # store keys; empty: every space in the store
    # programs placed in the first population (then evolved like any other); default: EZNAS-A as
    # released, averaged and summed over layers, and the paper text's form
    seed_programs: list = field(default_factory=lambda: list(SEED_PROGRAMS))
    tests: list = field(default_factory=list)  # held-out test sets 'space:dataset:n', streamed after the run
    hof_size: int = 10
    batch_mb: int = BATCH_MB  # statistics gathered per evaluation batch (per worker)
    cache_mb: int = CACHE_MB  # decoded statistics kept between generations, per kind read (per worker)
    run_dir: str = ""
    # set by the search at its start (StatsStore.identity): a resume or --exclude RUN on
    # another store is refused; empty in runs started before identities (unchecked)
    store_identity: dict = field(default_factory=dict)

    @classmethod
    def from_sources(cls, toml_path=None, overrides=None, origin=None):
        """A checked config: defaults, then the TOML file, then ``overrides`` (None values
        skipped).  ``origin``: {field: file it was read from} for overrides read from a file
        (a run's config.json); an error about a field read from a file names the file."""
        data, where = {}, {}
        if toml_path:
            try:
                with open(toml_path, "rb") as f:
                    data = tomllib.load(f)
            except (OSError, tomllib.TOMLDecodeError) as e:
                raise ValueError(f"--config {toml_path}: {e}") from None
            where = {k: f"--config {toml_path}" for k in data}
        given = {k: v for k, v in (overrides or {}).items() if v is not None}
        data.update(given)
        for k in given:
            where.pop(k, None)
            if (origin or {}).get(k):
                where[k] = origin[k]
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            files = sorted({where[k] for k in unknown if k in where})
            raise ValueError(f"{''.join(f + ': ' for f in files)}unknown config keys {unknown} (known: {sorted(names)})")
        try:
            cfg = cls(**data)
            cfg.check()  # before anything is written
        except ValueError as e:
            m = re.search(r"config fields? '(\w+)'", str(e))
            if m and m.group(1) in where:
                raise ValueError(f"{where[m.group(1)]}: {e}") from None
            raise
        return cfg

    def check(self):
        """Type- and range-check every field; the message names the field."""
        for f in fields(self):
            v = getattr(self, f.name)
            want = {"int": int, "float": (int, float), "str": str, "list": list, "dict": dict}[f.type if isinstance(f.type, str) else f.type.__name__]
            if isinstance(v, bool) or not isinstance(v, want):
                raise ValueError(f"config field {f.name!r} must be {f.type if isinstance(f.type, str) else f.type.__name__}, "
                                 f"got {v!r}")
        for name in ("spaces", "tests", "seed_programs"):
            bad = [v for v in getattr(self, name) if not isinstance(v, str)]
            if bad:
                raise ValueError(f"config field {name!r} must be a list of strings, got {bad[0]!r} in it")
        for name in ("cxpb", "mutpb"):  # NaN passes every comparison below; DEAP's varOr would assert
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"config field {name!r} must be a finite number in [0, 1], "
                                 f"got {getattr(self, name)!r}")
        ranges = {"generations": (0, None), "population": (2, None), "tournament": (1, None), "mu": (1, None),
                  "lambda_": (2, None), "min_depth": (1, MAX_SEARCH_DEPTH), "max_depth": (1, MAX_SEARCH_DEPTH), "spaces_per_gen": (1, None),
                  "nets_per_space": (0, None), "task_nets": (10, None), "validation_nets": (3, None),
                  "filter_nets": (1, None), "jobs": (1, None), "hof_size": (1, None), "batch_mb": (1, None),
                  "cache_mb": (1, None), "cxpb": (0, 1), "mutpb": (0, 1)}
        for name, (lo, hi) in ranges.items():
            v = getattr(self, name)
            if v < lo or (hi is not None and v > hi):
                raise ValueError(f"config field {name!r} must be {'>= ' + str(lo) if hi is None else f'in [{lo}, {hi}]'}, got {v!r}")
        if self.cxpb + self.mutpb > 1:
            raise ValueError("config fields 'cxpb' + 'mutpb' must not exceed 1 (DEAP varOr)")
        if self.min_depth > self.max_depth:
            raise ValueError("config field 'min_depth' must not exceed 'max_depth'")
        if self.mu > self.population:
            raise ValueError("config field 'mu' must not exceed 'population'")
        if self.validation_nets > self.task_nets - 8:
            raise ValueError(f"config field 'validation_nets' ({self.validation_nets}) must leave at least 8 search "
                             f"networks of 'task_nets' ({self.task_nets})")
        if self.rank_on not in ("validation", "task"):
            raise ValueError(f"config field 'rank_on' must be 'validation' or 'task', got {self.rank_on!r}")
        if self.size_factor not in ("", "flops"):
            raise ValueError(f"config field 'size_factor' must be '' or 'flops', got {self.size_factor!r}")
        if self.to_scalar not in ("mean", "l2"):
            raise ValueError("config field 'to_scalar' must be 'mean' or 'l2'")
        if len(self.seed_programs) > self.population:
            raise ValueError("config field 'seed_programs' has more programs than 'population'")
        from eznas.heldout import parse_test

        for t in self.tests:
            parse_test(t, "config field 'tests':")
        if self.backend not in ("loky", "threading", "sequential", "dask"):
            raise ValueError(f"config field 'backend' must be loky, threading, sequential or dask, got {self.backend!r}")

    def program(self, text):
        """The program string the run scores for an individual's ``text`` (with its size
        factor)."""
        from eznas.program import with_factor

        return with_factor(text, self.size_factor)

    def memory(self):
        return {"batch_mb": self.batch_mb, "cache_mb": self.cache_mb}

    def to_dict(self):
        return asdict(self)
