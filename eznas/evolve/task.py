"""The evolution task: per space, up to ``task_nets`` networks of the store split into
*search* networks (per-generation fitness; selection sees only these) and *validation*
networks (never used by selection; they rank the final hall of fame and give every
figure reported as a result).  Also the validity filter, which rejects programs that fail
and programs whose score reads only layer shapes.
"""
import random

import numpy as np
from eznas.batch import NetBatch, randomised
from eznas.program import parse
from stats_cache.store import StatsStore


class Task:
    def __init__(self, store_url, spaces=None, task_nets=80, validation_nets=20, seed=0, filter_nets=2):
        self.store_url = store_url
        store = StatsStore(store_url, "r")
        self.spaces = list(spaces) if spaces else store.spaces()
        stored = {s: store.network_attrs(s) for s in self.spaces}  # one reading of each network's metadata
        self.identity = store.identity(self.spaces, stored)  # what a run records of its store
        missing = [s for s in self.spaces if not stored[s]]
        if missing:
            raise ValueError(f"store {store_url} has no complete networks for spaces {missing} (has {store.spaces()})")
        self.seed = seed
        self.nets, self.validation, self.accuracy, self.attrs = {}, {}, {}, {}
        for s in self.spaces:
            keys = sorted(stored[s])
            if len(keys) > task_nets:
                keys = sorted(random.Random(f"task-{seed}-{s}").sample(keys, task_nets))
            if len(keys) < validation_nets + 8:
                raise ValueError(f"space {s!r} of {store_url} has {len(keys)} networks: too few for "
                                 f"{validation_nets} validation + at least 8 search networks (collect more, or lower "
                                 f"validation_nets)")
            held = set(random.Random(f"validation-{seed}-{s}").sample(keys, validation_nets))
            self.nets[s] = [k for k in keys if k not in held]
            self.validation[s] = [k for k in keys if k in held]
            self.attrs[s] = {k: stored[s][k] for k in keys}
            self.accuracy[s] = {k: float(a["accuracy"]) for k, a in self.attrs[s].items()}
            bad = [k for k, v in self.accuracy[s].items() if not np.isfinite(v)]
            if bad:
                raise ValueError(f"space {s!r} of {store_url}: network {bad[0]} has accuracy {self.accuracy[s][bad[0]]} "
                                 "(accuracies must be finite)")
        # the validity filter's networks (search networks only), held in memory, and the same
        # networks with random values: a program scoring both alike reads only shapes
        groups = [store.read_network(s, k).groups for s in self.spaces for k in self.nets[s][:filter_nets]]
        self._valid = NetBatch(groups)
        self._noise = NetBatch([randomised(g, seed * 7919 + 104729 + j) for j, g in enumerate(groups)])

    def sample(self, gen, spaces_per_gen, nets_per_space):
        """{space: [keys]} of search networks for generation ``gen``; the same for every
        individual.  ``nets_per_space`` 0 (or more than there are): all search networks."""
        rng = random.Random(f"sample-{self.seed}-{gen}")
        spaces = self.spaces if len(self.spaces) <= spaces_per_gen else sorted(rng.sample(self.spaces, spaces_per_gen))
        out = {}
        for s in spaces:
            n = len(self.nets[s]) if nets_per_space <= 0 else min(nets_per_space, len(self.nets[s]))
            out[s] = list(self.nets[s]) if n == len(self.nets[s]) else sorted(rng.sample(self.nets[s], n))
        return out

    def full(self):
        """Every search network."""
        return dict(self.nets)

    def held_out(self):
        """Every validation network."""
        return dict(self.validation)

    def shape_sets(self):
        """{kind: per-layer shape} of every layer shape of the filter networks."""
        return [{k: tuple(v.shape[1:]) for k, v in env.items()} for _, env in self._valid.stacks]

    def all_archs(self):
        """{space key: set of architecture ids} of every task network (search and validation)."""
        return {s: {str(a.get("arch")) for a in self.attrs[s].values()} for s in self.spaces}

    def valid(self, program, how="mean"):
        """True when the program gives finite scores on the filter networks and its scores
        depend on the statistics' values, not only on their shapes."""
        prefix = parse(str(program))
        real = self._valid.scores(prefix, how)
        if not np.all(np.isfinite(real)):
            return False
        return not shape_only(real, self._noise.scores(prefix, how))


def shape_only(real, noisy):
    """True when the scores on random values equal the scores on real statistics, to
    rounding, on every filter network: the program cannot depend on values (a mean of a
    softmax is 1/width; numel; ones_like)."""
    return bool(np.allclose(real, noisy, rtol=1e-7, atol=1e-12))
