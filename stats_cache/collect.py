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
from stats_cache.schema import DEFINITIONS, FAMILIES, FAMILY_OF, INPUTS, inputs_needed


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
        return tuple(next((tuple(self.tensors[k].shape) for k in fam if k in self.tensors), None)
                     for fam in FAMILIES.values())


def _capture(layers, store, want):
    """Forward hooks recording T1 / T2 / T4 and gradient hooks recording T1G / T2G / T4G of
    every layer into ``store[k]`` (see stats_cache.schema.DEFINITIONS); only the tensor
    names in ``want`` are kept."""
    handles = []

    def relu_hook(k):
        def hook(mod, inp, out):
            store[k]["#T1"] = inp[0]  # shape for a gradient that never arrives (not kept after the pass)
            if "T1" in want:
                store[k]["T1"] = inp[0].detach().clone()
            if out.requires_grad and "T1G" in want:  # grad_input of the ReLU: its grad_output where the input is > 0
                on = inp[0].detach() > 0
                out.register_hook(lambda g: store[k].__setitem__("T1G", g.detach() * on))
        return hook

    def out_hook(kind, k):
        def hook(mod, inp, out):
            store[k]["#" + kind] = out
            if kind in want:
                store[k][kind] = out.detach().clone()
            if out.requires_grad and kind + "G" in want:  # grad_output: the total gradient of the module's output tensor
                out.register_hook(lambda g: store[k].__setitem__(kind + "G", g.detach().clone()))
        return hook

    for k, l in enumerate(layers):
        handles.append(l.relu.register_forward_hook(relu_hook(k)))
        handles.append(l.conv.register_forward_hook(out_hook("T2", k)))
        handles.append(l.bn.register_forward_hook(out_hook("T4", k)))
    return handles


def cap_channels(kind, t, max_channels):
    """``t`` (a statistic of kind ``kind``) cut to its first ``max_channels`` channels on
    each channel axis (in / out families: axis 1; weights: axes 0 and 1); unchanged when
    ``max_channels`` is None or the tensor is narrower (stats_cache.schema, "max_channels")."""
    if not max_channels:
        return t
    if FAMILY_OF[kind] == "w":
        return t[:max_channels, :max_channels] if t.shape[0] > max_channels or t.shape[1] > max_channels else t
    return t[:, :max_channels] if t.shape[1] > max_channels else t


def collect(model, data, seed=0, pattern="rcb", labels=None, device=None, noise_scale=0.1, kinds=None, report=None,
            max_channels=None):
    """Return a list of ``LayerStats`` (one per layer, execution order) with the 22 kinds.

    ``data``: the batch D (B, C, H, W).  ``labels``: if given, the backward signal is
    cross-entropy against them, else the sum of the outputs.  ``device``: torch device
    (default: the data's).  ``kinds``: record only these kinds, running only the passes
    they need (``stats_cache.schema.inputs_needed``), which saves most of the time and
    memory when a program reads one or two; a P kind also brings its D counterpart (P is
    stored as P minus D).  The model's train/eval mode is restored afterwards (its
    BatchNorm running statistics are not: work on a copy to keep them).  ``report``: a
    dict that receives which convolutions were left out and why (``find_layers``).
    ``max_channels``: keep each tensor's first that many channels (``cap_channels``); the
    network itself is computed whole.
    """
    if kinds is not None:
        kinds = set(kinds)
        bad = kinds - set(FAMILY_OF)
        if bad or not kinds:
            raise ValueError(f"kinds must be a non-empty subset of the 22 statistics, got unknown {sorted(bad)}")
        kinds |= {k[:-1] + "D" for k in kinds if k.endswith("_P")}
    passes = inputs_needed(kinds) if kinds is not None else INPUTS
    device = torch.device(device) if device is not None else data.device
    model = model.to(device)
    data = data.to(device)
    layers = find_layers(model, data[:1], pattern, report)
    relus = [l.relu for l in layers]
    inplace = [getattr(r, "inplace", False) for r in relus]
    for r in relus:
        r.inplace = False  # T1 must be the ReLU's input as it was
    batches = make_inputs(data, seed, noise_scale)
    out = [dict() for _ in layers]
    was_training = model.training
    model.train()
    try:
        for x in passes:
            cur = [dict() for _ in layers]
            want = {t for t in DEFINITIONS if kinds is None or f"{t}_{x}" in kinds}
            handles = _capture(layers, cur, want)
            try:
                model.zero_grad(set_to_none=True)
                y = model(batches[x])
                loss = F.cross_entropy(y, labels.to(device)) if labels is not None else y.sum()
                loss.backward()
            finally:
                for h in handles:
                    h.remove()
            for k, l in enumerate(layers):
                c = cur[k]
                for t in ("T1", "T2", "T4"):
                    ref = c.pop("#" + t)
                    if t + "G" in want and t + "G" not in c:  # no gradient reached it: zeros
                        c[t + "G"] = torch.zeros(ref.shape, dtype=ref.dtype, device=ref.device)
                if "T3G" in want:
                    g = l.conv.weight.grad
                    c["T3G"] = g.detach().clone() if g is not None else torch.zeros_like(l.conv.weight)
                for t, v in c.items():
                    out[k][f"{t}_{x}"] = v
            if x == passes[0] and (kinds is None or "T3" in kinds):
                for k, l in enumerate(layers):
                    out[k]["T3"] = l.conv.weight.detach().clone()
    finally:
        model.train(was_training)
        for r, ip in zip(relus, inplace):
            r.inplace = ip
        model.zero_grad(set_to_none=True)
    stats = []
    for k, l in enumerate(layers):
        t = out[k]
        for kind in list(t):
            if kind.endswith("_P"):
                t[kind] = t[kind] - t[kind[:-1] + "D"]
        stats.append(LayerStats(l.name, {kind: cap_channels(kind, t[kind], max_channels).float().cpu().contiguous()
                                         for kind in FAMILY_OF if kind in t and (kinds is None or kind in kinds)}))
    return stats


def cancelled_layers(stats, x="D", rtol=1e-4):
    """Indices of the layers whose backward signal was cancelled for input ``x``: the
    gradient reaching the BatchNorm's output (T4G) is not zero but the same at every batch
    element and position of each channel.  (A layer whose output no path takes to the loss,
    e.g. behind a 'none' edge, gets exact zeros: reproducible, and not counted here.)  A train-mode BatchNorm subtracts that mean exactly, so its
    input gradient, and every gradient statistic upstream of it, is then rounding noise
    (about 1e-9 of the signal), whose values differ between machines and thread counts.
    It happens where a BatchNorm feeds global pooling with no nonlinearity between (the
    residual blocks of TransNAS-Bench-101 macro) and the loss gives every batch element the
    same gradient: the sum of the logits at any batch size, cross-entropy at batch 1.
    Layers without a recorded T4G_x are not judged."""
    out = []
    for k, s in enumerate(stats):
        g = s.tensors.get(f"T4G_{x}")
        if g is None:
            continue
        flat = g.double().transpose(0, 1).reshape(g.shape[1], -1)
        scale = float(flat.abs().max())
        if flat.shape[1] < 2:
            continue  # one value per channel: nothing to compare
        spread = float((flat - flat.mean(dim=1, keepdim=True)).abs().max())
        if scale > 0 and spread <= rtol * scale:
            out.append(k)
    return out


def group_indices(stats):
    """Layer indices grouped by identical shapes, in order of first appearance."""
    groups = {}
    for i, s in enumerate(stats):
        groups.setdefault(s.shapes(), []).append(i)
    return list(groups.values())


def group_layers(stats):
    """Group layers by identical shapes: list of (layer indices, stacked tensors)."""
    kinds = [k for k in FAMILY_OF if k in stats[0].tensors] if stats else []
    return [(idx, {k: torch.stack([stats[i].tensors[k] for i in idx]) for k in kinds}) for idx in group_indices(stats)]
