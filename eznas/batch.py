"""Several networks' statistics stacked by layer shape, so that a program runs once per
distinct layer shape instead of once per layer group of every network.

Ops act per slice of the leading layer axis, so stacking layers of different networks
changes nothing in the per-layer results; an op error depends only on shapes, so it
invalidates exactly the networks that own layers of that shape.
"""
import math

import numpy as np
import torch

from eznas.program import OpError, run, split_aggregate, split_factor, to_scalar


class NetBatch:
    def __init__(self, nets, attrs=None):
        """``nets``: list of per-network group lists [(layer indices, {kind: (L, ...)})];
        ``attrs``: per network, its record ({"flops": ...}), which a ``times_flops``
        program multiplies by."""
        self.attrs = attrs
        by_shape = {}
        counts = []
        for j, groups in enumerate(nets):
            n = 0
            for idx, env in groups:
                sig = tuple((k, tuple(v.shape[1:])) for k, v in sorted(env.items()))
                by_shape.setdefault(sig, []).append((j, env))
                n += len(idx)
            counts.append(n)
        self.n = len(nets)
        self.counts = torch.tensor(counts, dtype=torch.float64)
        self.stacks = []
        for parts in by_shape.values():
            owners = torch.cat([torch.full((next(iter(e.values())).shape[0],), j, dtype=torch.long) for j, e in parts])
            env = {k: torch.cat([e[k] for _, e in parts]) if len(parts) > 1 else parts[0][1][k] for k in parts[0][1]}
            self.stacks.append((owners, env))

    def scores(self, prefix, how="mean"):
        """Per-network scores (float64 numpy), per-layer scalars averaged over each network's
        layers (summed for a ``layer_sum`` program), times each network's FLOPs for a
        ``times_flops`` program; NaN where an op failed or a value is not finite."""
        factor = split_factor(prefix)[1]
        if factor and (self.attrs is None or any(a.get(factor) is None for a in self.attrs)):
            raise ValueError(f"a program with times_{factor} needs every network's {factor}, and some were not given")
        prefix, aggregate = split_aggregate(prefix)
        sums = torch.zeros(self.n, dtype=torch.float64)
        bad = torch.zeros(self.n, dtype=torch.bool)
        for owners, env in self.stacks:
            try:
                v = to_scalar(run(prefix, env), how)
                if v.shape[0] != owners.shape[0]:
                    raise OpError("program result lost the layer axis")
            except OpError:
                bad[owners] = True
                continue
            sums.index_add_(0, owners, v)
        out = (sums / self.counts if aggregate == "mean" else sums).numpy()
        if factor:
            out = out * np.array([float(a[factor]) for a in self.attrs])
        out[bad.numpy() | ~np.isfinite(out) | (self.counts.numpy() == 0)] = math.nan  # no layers: no score
        return out


def randomised(groups, seed):
    """The same layer groups with every tensor's values replaced by Gaussian noise: a
    program that scores them as it scores the real ones reads only shapes."""
    g = torch.Generator().manual_seed(seed)
    return [(idx, {k: torch.randn(v.shape, generator=g, dtype=v.dtype) for k, v in env.items()}) for idx, env in groups]
