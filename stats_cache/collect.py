"""Record the 22 statistics of every RCB / CBR layer of a model.

For each input X in (D, N, P): one forward pass in the model's train mode (batch
statistics in BN, as EZNAS does) and one backward pass of the sum of the outputs (or of
cross-entropy against labels).  Hooks are attached for the three passes and removed
afterwards, whatever happens.  P tensors are returned as P minus D.
"""
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from stats_cache.layers import find_layers
from stats_cache.schema import FAMILIES, FAMILY_OF, INPUTS


def make_inputs(data, seed, noise_scale=0.1):
    """D, N = randn(D.shape), P = D + noise_scale * randn(D.shape), from ``seed``."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    n = torch.randn(data.shape, generator=g)
    p = data.cpu() + noise_scale * torch.randn(data.shape, generator=g)
    return {"D": data, "N": n.to(data.device), "P": p.to(data.device)}


@dataclass
class LayerStats:
    name: str
    tensors: dict  # kind -> tensor (float32, CPU)

    def shapes(self):
        return tuple(tuple(self.tensors[fam[0]].shape) for fam in FAMILIES.values())


def _capture(layers, store):
    handles = []

    def on(kind_fwd, kind_grad, k):
        def hook(mod, inp, out):
            t = inp[0] if kind_fwd == "T1" else out
            store[k][kind_fwd] = t.detach().clone()
            if t.requires_grad:
                t.register_hook(lambda g: store[k].__setitem__(kind_grad, g.detach().clone()))
        return hook

    for k, l in enumerate(layers):
        handles.append(l.relu.register_forward_hook(on("T1", "T1G", k)))
        handles.append(l.conv.register_forward_hook(on("T2", "T2G", k)))
        handles.append(l.bn.register_forward_hook(on("T4", "T4G", k)))
    return handles


def collect(model, data, seed=0, pattern="rcb", labels=None, device=None, noise_scale=0.1):
    """Return a list of ``LayerStats`` (one per layer, execution order) with the 22 kinds.

    ``data``: the batch D (B, C, H, W).  ``labels``: if given, the backward signal is
    cross-entropy against them, else the sum of the outputs.  ``device``: torch device
    (default: the data's).
    """
    device = torch.device(device) if device is not None else data.device
    model = model.to(device)
    data = data.to(device)
    layers = find_layers(model, data[:1], pattern)
    relus = [l.relu for l in layers]
    inplace = [getattr(r, "inplace", False) for r in relus]
    for r in relus:
        r.inplace = False  # T1 must be the ReLU's input as it was
    inputs = make_inputs(data, seed, noise_scale)
    out = [dict() for _ in layers]
    model.train()
    try:
        for x in INPUTS:
            cur = [dict() for _ in layers]
            handles = _capture(layers, cur)
            try:
                model.zero_grad(set_to_none=True)
                y = model(inputs[x])
                loss = F.cross_entropy(y, labels.to(device)) if labels is not None else y.sum()
                loss.backward()
            finally:
                for h in handles:
                    h.remove()
            for k, l in enumerate(layers):
                c = cur[k]
                for t in ("T1", "T2", "T4"):
                    c.setdefault(t + "G", torch.zeros_like(c[t]))
                c["T3G"] = l.conv.weight.grad.detach().clone() if l.conv.weight.grad is not None else torch.zeros_like(l.conv.weight)
                for t, v in c.items():
                    out[k][f"{t}_{x}"] = v
            if x == "D":
                for k, l in enumerate(layers):
                    out[k]["T3"] = l.conv.weight.detach().clone()
    finally:
        for r, ip in zip(relus, inplace):
            r.inplace = ip
        model.zero_grad(set_to_none=True)
    stats = []
    for k, l in enumerate(layers):
        t = out[k]
        for kind in list(t):
            if kind.endswith("_P"):
                t[kind] = t[kind] - t[kind[:-1] + "D"]
        stats.append(LayerStats(l.name, {kind: t[kind].float().cpu() for kind in FAMILY_OF}))
    return stats


def group_indices(stats):
    """Layer indices grouped by identical shapes, in order of first appearance."""
    groups = {}
    for i, s in enumerate(stats):
        groups.setdefault(s.shapes(), []).append(i)
    return list(groups.values())


def group_layers(stats):
    """Group layers by identical shapes: list of (layer indices, stacked tensors)."""
    return [(idx, {k: torch.stack([stats[i].tensors[k] for i in idx]) for k in FAMILY_OF}) for idx in group_indices(stats)]
