"""The evolution task dataset: up to ``task_nets`` networks per space from the store,
per-generation samples fixed by (seed, generation), and the validity filter."""
import random

import numpy as np

from eznas.batch import NetBatch
from eznas.program import parse
from stats_cache.store import StatsStore


class Task:
    def __init__(self, store_url, spaces=None, task_nets=80, validation_nets=2, seed=0):
        self.store_url = store_url
        store = StatsStore(store_url, "r")
        self.spaces = list(spaces) if spaces else store.spaces()
        missing = [s for s in self.spaces if not store.networks(s)]
        if missing:
            raise ValueError(f"store {store_url} has no complete networks for spaces {missing} (has {store.spaces()})")
        self.seed = seed
        self.nets, self.accuracy = {}, {}
        for s in self.spaces:
            keys = store.networks(s)
            if len(keys) > task_nets:
                keys = sorted(random.Random(f"task-{seed}-{s}").sample(keys, task_nets))
            self.nets[s] = keys
            self.accuracy[s] = {k: float(store.attrs(s, k)["accuracy"]) for k in keys}
        # the validity filter's networks, held in memory (bounded: validation_nets per space)
        self._valid = NetBatch([store.read_network(s, k).groups for s in self.spaces for k in self.nets[s][:validation_nets]])

    def sample(self, gen, spaces_per_gen, nets_per_space):
        """{space: [keys]} for generation ``gen``; the same for every individual."""
        rng = random.Random(f"sample-{self.seed}-{gen}")
        spaces = self.spaces if len(self.spaces) <= spaces_per_gen else sorted(rng.sample(self.spaces, spaces_per_gen))
        return {s: sorted(rng.sample(self.nets[s], min(nets_per_space, len(self.nets[s])))) for s in spaces}

    def full(self):
        return dict(self.nets)

    def valid(self, program, how="mean"):
        """True when the program runs and gives finite scores on the validation networks."""
        return bool(np.all(np.isfinite(self._valid.scores(parse(str(program)), how))))
