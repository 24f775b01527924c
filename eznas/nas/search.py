"""Architecture search on a benchmark whose ground truth is a table: random search and
regularised (aging) evolution (Real et al. 2019), with a zero-cost proxy integrated as
Abdelfattah et al. (2021) do it (warm-up and move proposal).

"Training" a network means looking up its accuracy in the table and costs one query; a
network already trained is not trained again (it costs nothing, and the budget counts
distinct networks).  Every function returns the networks queried, in order, and the set of
networks whose proxy score it asked for.
"""
import math
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from eznas.spaces.registry import get

MAX_STEPS_PER_QUERY = 50  # evolution steps allowed per query (revisits are free) before giving up
MIN_NEIGHBOURS = 5  # fewer networks of the table one choice away: those two choices away join them


@dataclass
class TableBenchmark:
    """A space's table: accuracy by network index, and each network's neighbours (the
    networks of the table one architecture choice away: what a mutation may reach).  In a
    partial table (the built-in spaces keep 1,000 trained networks of thousands) a network
    may have few or none one choice away; then those two choices away are neighbours too."""
    gt: object  # eznas.spaces.benchmarks.GroundTruth
    _neighbours: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self.space = get(self.gt.space)
        if self.space.neighbours is None:
            raise ValueError(f"space {self.gt.space!r} defines no mutation (no neighbours in its SearchSpace record); "
                             "eznas nas needs one")
        self.accuracy = np.asarray(self.gt.accuracy, dtype=float)

    def __len__(self):
        return len(self.accuracy)

    def neighbours(self, i):
        """Indices of the networks of the table one choice away from network ``i``."""
        if i not in self._neighbours:
            one = self.space.neighbours(self.gt.archs[i])
            near = self._in_table(one)
            if len(near) < MIN_NEIGHBOURS:
                two = {b for a in one for b in self.space.neighbours(a)} - set(one) - {str(self.gt.archs[i])}
                near += self._in_table(sorted(two))
            self._neighbours[i] = near
        return self._neighbours[i]

    def _in_table(self, archs):
        return [j for j in (self.gt.index.get(str(a)) for a in archs) if j is not None]


def _ranked(indices, scores, rng):
    """``indices`` by score, best first; ties in a random order (``rng``), NaN last."""
    keys = [(-s if not math.isnan(s) else math.inf, rng.random()) for s in scores]
    return [indices[k] for k in sorted(range(len(indices)), key=keys.__getitem__)]


def warmup_pool(n, pool, rng):
    """The random pool a warm-up scores: ``pool`` distinct networks out of ``n``."""
    return rng.sample(range(n), min(pool, n))


def random_search(bench, queries, seed):
    """Distinct networks drawn uniformly at random."""
    rng = random.Random(seed)
    return rng.sample(range(len(bench)), min(queries, len(bench))), set()


def aging_evolution(bench, queries, seed, population=20, sample=5, proxy: Optional[Callable] = None, pool=0,
                    children=1):
    """Regularised evolution: a population of ``population`` networks; each step trains a
    mutant (one neighbour) of the best of ``sample`` random members and retires the oldest.

    With ``proxy`` (indices -> scores, larger = better):
    - ``pool`` > 0, warm-up: the proxy scores ``pool`` random networks and the initial
      population is its best ``population`` of them (trained best first), instead of
      ``population`` random networks;
    - ``children`` > 1, move proposal: each step draws ``children`` distinct mutants of the
      parent, the proxy scores them, and only the best is trained (the best not trained
      yet: a network trained before would cost nothing and teach nothing).
    """
    rng = random.Random(seed)
    n = len(bench)
    scored, history, seen = set(), [], set()

    def train(i):
        if i not in seen and len(history) < queries:
            seen.add(i)
            history.append(i)

    if proxy is not None and pool > 0:
        cand = warmup_pool(n, pool, rng)
        scored.update(cand)
        start = _ranked(cand, proxy(cand), rng)[:population]
    else:
        start = rng.sample(range(n), min(population, n))
    members = deque()
    for i in start:
        train(i)
        members.append(i)
    for _ in range(MAX_STEPS_PER_QUERY * queries):
        if len(history) >= queries or len(seen) == n:
            break
        contenders = rng.sample(list(members), min(sample, len(members)))
        parent = max(contenders, key=lambda i: bench.accuracy[i])
        near = bench.neighbours(parent) or [rng.randrange(n)]  # alone in a partial table: jump
        if proxy is not None and children > 1:
            kids = rng.sample(near, min(children, len(near)))
            scored.update(kids)
            ranked = _ranked(kids, proxy(kids), rng)
            child = next((i for i in ranked if i not in seen), ranked[0])  # the best not trained yet
        else:
            child = rng.choice(near)
        train(child)
        members.append(child)
        members.popleft()
    return history, scored


def best_so_far(bench, history, queries):
    """Best accuracy among the first q networks trained, for q = 1..queries (the last value
    carried on when a search stopped early)."""
    acc = np.maximum.accumulate(bench.accuracy[history]) if history else np.array([np.nan])
    return np.concatenate([acc, np.full(max(queries - len(acc), 0), acc[-1])])[:queries]
