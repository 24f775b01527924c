"""Run configuration: paper defaults (Appendix 8.7), a TOML file, then flags."""
import tomllib
from dataclasses import asdict, dataclass, field, fields


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
    nets_per_space: int = 20  # networks per space per generation
    task_nets: int = 80  # networks per space in the task dataset
    validation_nets: int = 2  # per space, fixed, for the validity filter
    to_scalar: str = "mean"
    seed: int = 0
    jobs: int = 1
    backend: str = "loky"
    scheduler: str = ""
    store: str = ""  # statistics store URL; empty: the built-in default store in the run dir
    spaces: list = field(default_factory=list)  # store keys; empty: every space in the store
    hof_size: int = 10
    batch_mb: int = 256  # statistics gathered per evaluation batch (per worker)
    cache_mb: int = 512  # decoded networks kept between generations (per worker)
    run_dir: str = ""

    @classmethod
    def from_sources(cls, toml_path=None, overrides=None):
        data = {}
        if toml_path:
            try:
                with open(toml_path, "rb") as f:
                    data = tomllib.load(f)
            except (OSError, tomllib.TOMLDecodeError) as e:
                raise ValueError(f"--config {toml_path}: {e}") from None
        data.update({k: v for k, v in (overrides or {}).items() if v is not None})
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown config keys {unknown} (known: {sorted(names)})")
        cfg = cls(**data)
        cfg.check()
        return cfg

    def check(self):
        if self.population < 2 or self.generations < 0:
            raise ValueError("population must be >= 2 and generations >= 0")
        if not 0 <= self.cxpb + self.mutpb <= 1:
            raise ValueError("cxpb + mutpb must lie in [0, 1] (DEAP varOr)")
        if not 1 <= self.min_depth <= self.max_depth:
            raise ValueError("need 1 <= min_depth <= max_depth")
        if self.mu > self.population:
            raise ValueError("mu cannot exceed population")
        if self.to_scalar not in ("mean", "l2"):
            raise ValueError("to_scalar must be 'mean' or 'l2'")

    def memory(self):
        return {"budget_mb": self.batch_mb, "cache_mb": self.cache_mb}

    def to_dict(self):
        return asdict(self)
