"""Search variants on the same seeds, and what they found: best-so-far accuracy per query
per seed, the proxy evaluations each variant spent and what they cost.

    from eznas.nas import Settings, run_nas
    result = run_nas("nb201", "cifar10", proxies=["params", "runs/<run>"], settings=Settings(seeds=20))
    print(result.table(target=94.0)); result.write("runs/nas")
"""
import logging
import random
from dataclasses import dataclass, field

import numpy as np

from eznas.nas.proxy_scores import ProxyScores
from eznas.nas.search import TableBenchmark, aging_evolution, best_so_far, random_search, warmup_pool

log = logging.getLogger("eznas.nas")

# variant: (label, {} = the proxy's name; warm-up; move proposal)
VARIANTS = {"random": ("random search", False, False), "ae": ("aging evolution", False, False),
            "warmup": ("ae+warmup({})", True, False), "move": ("ae+move({})", False, True),
            "warmup+move": ("ae+warmup+move({})", True, True)}
DEFAULT_VARIANTS = ("random", "ae", "warmup", "move")
CHECKPOINTS = (25, 50, 100, 200)


@dataclass
class Settings:
    """How each search runs (the same for every variant)."""
    queries: int = 200  # networks trained (table look-ups) per search
    seeds: int = 20  # searches per variant, seeds first_seed .. first_seed + seeds - 1
    first_seed: int = 0
    population: int = 10  # aging evolution: population size (10 / 5: the best plain AE of 6 settings, seeds 100-129)
    sample: int = 5  # aging evolution: members drawn to pick a parent
    pool: int = 1000  # warm-up: random networks the proxy scores
    children: int = 10  # move proposal: mutants the proxy scores per step

    def check(self):
        for k, v in vars(self).items():
            if not isinstance(v, int) or isinstance(v, bool) or v < (0 if k == "first_seed" else 1):
                raise ValueError(f"--{k.replace('_', '-')} must be an integer >= {0 if k == 'first_seed' else 1}, got {v!r}")
        if self.sample > self.population:
            raise ValueError(f"--sample {self.sample} is larger than --population {self.population}")


@dataclass
class Curve:
    """One variant: best-so-far accuracy (seeds x queries), the networks trained per seed,
    and per seed the proxy evaluations spent and the seconds they took on this machine."""
    label: str
    best: np.ndarray
    histories: list
    evaluations: list = field(default_factory=list)
    proxy_seconds: list = field(default_factory=list)
    proxy: str = ""


@dataclass
class NasResult:
    space: str
    dataset: str
    settings: Settings
    curves: list
    best_in_table: float
    about: str = ""
    archs: list = field(default_factory=list, repr=False)  # the table's architecture ids, by index
    accuracy: np.ndarray = field(default=None, repr=False)  # the table's accuracies, by index

    def queries_to(self, curve, target):
        """First query at which the mean best-so-far over seeds reaches ``target`` (None: never)."""
        hit = np.nonzero(curve.best.mean(0) >= target - 1e-9)[0]
        return int(hit[0]) + 1 if len(hit) else None

    def seed_queries_to(self, curve, target):
        """Median over seeds of the first query at which a search reaches ``target``
        (a seed that never does counts as more than the budget); None if half never do."""
        first = [int(np.argmax(b >= target - 1e-9)) + 1 if (b >= target - 1e-9).any() else np.inf for b in curve.best]
        m = float(np.median(first))
        return m if np.isfinite(m) else None

    def table(self, target=None, at=CHECKPOINTS):
        at = sorted({q for q in at if q < self.settings.queries} | {self.settings.queries})
        head = ["variant"] + [f"{q} queries" for q in at]
        if target is not None:
            head += [f"queries to mean >= {target:g}", f"median queries of a seed to {target:g}",
                     f"seeds >= {target:g} by {self.settings.queries}"]
        head += ["proxy evaluations per search", "proxy seconds per search"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for c in self.curves:
            cells = [c.label] + [f"{c.best[:, q - 1].mean():.2f} ± {c.best[:, q - 1].std():.2f}" for q in at]
            if target is not None:
                q, m = self.queries_to(c, target), self.seed_queries_to(c, target)
                cells += [str(q) if q else f"> {self.settings.queries}", f"{m:g}" if m else f"> {self.settings.queries}",
                          f"{int((c.best[:, -1] >= target - 1e-9).sum())}/{len(c.best)}"]
            ev = float(np.mean(c.evaluations)) if c.evaluations else 0.0
            sec = float(np.mean(c.proxy_seconds)) if c.proxy_seconds else 0.0
            cells += [f"{ev:.0f}", f"{sec:.1f}" if sec < 10 else f"{sec:.0f}"]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def write(self, out, target=None):
        """``out``/best_so_far.csv (variant, seed, query, arch, accuracy, best),
        ``out``/nas.md (the table) and ``out``/best_so_far.png; returns their paths."""
        from eznas.nas.report import plot, write_csv, write_markdown

        return write_csv(self, out), write_markdown(self, out, target), plot(self, out, target)


def run_nas(space, dataset=None, proxies=(), variants=DEFAULT_VARIANTS, settings=None, ground_truth=None,
            data=None, cache_dir="runs/proxy-scores", batch_size=None, scoring_seed=0, jobs=1, device="cpu"):
    """Run every variant on the same seeds.  ``proxies``: baseline names, program strings,
    ``FILE.py[:FUNCTION]`` or run directories (``RUN`` or ``RUN:program_k``); each proxy
    variant runs once per proxy.  Proxy scores are cached under ``cache_dir``."""
    from eznas.spaces.sources import default_data, load_ground_truth

    settings = settings or Settings()
    settings.check()
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"--variants: unknown {', '.join(unknown)} (known: {', '.join(VARIANTS)})")
    with_proxy = [v for v in variants if "{}" in VARIANTS[v][0]]
    if with_proxy and not proxies:
        raise ValueError(f"--variants {', '.join(with_proxy)} need a --proxy")
    s = settings
    if any(VARIANTS[v][2] for v in variants) and s.children < 2:
        raise ValueError(f"--children {s.children}: a move proposal compares at least 2 mutants")
    if any(VARIANTS[v][1] for v in variants) and s.pool < s.population:
        raise ValueError(f"--pool {s.pool} is smaller than --population {s.population}: a warm-up starts the "
                         "population from the pool's best")
    gt = load_ground_truth(space, dataset, ground_truth)
    bench = TableBenchmark(gt)
    data = data or default_data(space)
    scorers = [ProxyScores(p, gt, cache_dir, data, batch_size, scoring_seed, jobs, device)
               for p in (proxies if with_proxy else [])]
    names = [ps.name for ps in scorers]
    for k, ps in enumerate(scorers):  # two program strings: program, program-2, ...
        if (n := names[:k + 1].count(names[k])) > 1:
            ps.name = f"{names[k]}-{n}"
    seeds = range(s.first_seed, s.first_seed + s.seeds)
    warming = any(VARIANTS[v][1] for v in variants)
    capped = warming and s.pool >= len(bench)
    if capped:
        log.info(f"warm-up: --pool {s.pool} >= the {len(bench)} networks of the {space}/{gt.dataset} table: pool capped "
                 f"at the space's {len(bench)} networks (each warm-up pool is the whole table)")
    curves = []
    for v in variants:
        label, warm, move = VARIANTS[v]
        for ps in (scorers if "{}" in label else [None]):
            if warm:  # the pools every seed will ask for, scored at once (in parallel when jobs > 1)
                wanted = sorted({i for seed in seeds for i in warmup_pool(len(bench), s.pool, random.Random(seed))})
                cached = ps.cached(wanted)
                log.info(f"warm-up of {ps.name}: {len(wanted)} distinct networks across the {s.seeds} seeds' pools of "
                         f"{min(s.pool, len(bench))}, {cached} of them cached ({ps.path}): {len(wanted) - cached} to score")
                ps(wanted)
            runs = []
            for seed in seeds:
                if v == "random":
                    runs.append(random_search(bench, s.queries, seed))
                else:
                    runs.append(aging_evolution(bench, s.queries, seed, s.population, s.sample, ps,
                                                s.pool if warm else 0, s.children if move else 1))
            curves.append(Curve(label.format(ps.name if ps else ""),
                                np.array([best_so_far(bench, h, s.queries) for h, _ in runs]),
                                [h for h, _ in runs], [len(sc) for _, sc in runs],
                                [ps.cost(sc) if ps else 0.0 for _, sc in runs], ps.spec if ps else ""))
            log.info(f"{curves[-1].label}: mean best {curves[-1].best[:, -1].mean():.2f} after {s.queries} queries")
    about = (f"{space}/{gt.dataset}: {len(bench)} networks in the table (best {np.nanmax(bench.accuracy):.2f}); "
             f"{s.seeds} seeds ({s.first_seed}..{s.first_seed + s.seeds - 1}), {s.queries} queries each; aging "
             f"evolution population {s.population}, sample {s.sample}; warm-up pool {s.pool}"
             f"{f' (capped at the space: {len(bench)} networks)' if capped else ''}; move proposal "
             f"{s.children} children.")
    if scorers:
        about += (f" Proxies scored on data {data}, scoring seed {scoring_seed}, device {device}: "
                  + "; ".join(f"{ps.name} = `{ps.proxy}` (batch {ps.batch_size})" for ps in scorers) + ".")
    return NasResult(space, gt.dataset, settings, curves, float(np.nanmax(bench.accuracy)), about, list(gt.archs),
                     bench.accuracy)

