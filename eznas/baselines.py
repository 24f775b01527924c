"""Hand-designed zero-cost proxies, for comparison with evolved programs.

Each baseline is ``fn(model, x, y) -> float`` (larger = predicted better, as published);
``x`` a data batch, ``y`` its labels (proxies with a loss use cross-entropy).  Models are
deep-copied where a proxy changes them.

EZNAS-A, the EZNAS paper's discovered proxy, exists in two forms:
- ``eznas_a``: the program the released EZNAS code computes,
  ``frobenius_norm(sigmoid(logdet(sign(T1G_D))))``.  Its argument table is shifted by one,
  so the program it runs reads T1G_D (gradient through the ReLU, data batch), not the
  T3G_N its paper names; this is the form behind the repository's NB201 figures
  (0.6195 / 0.6169 on CIFAR-10 / CIFAR-100 at batch 16).
- ``eznas_a_paper``: the paper text's program on T3G_N (the conv weight gradient on
  noise).  Weak on NB201 cells, strong on width spaces.
Both average the per-layer values over layers, as EZNAS does; ``eznas_a_sum`` sums them.

Proxies that compare samples within a batch (naswot, jacob_cov) need at least two inputs;
``BATCH_SIZE`` holds the batch size their papers use.
"""
import copy
import functools

import torch
import torch.nn as nn
import torch.nn.functional as F

from eznas.discovered import DISCOVERED
from eznas.spaces.complexity import count_flops, count_params

EZNAS_A = "frobenius_norm(sigmoid(logdet(sign(T1G_D))))"  # as the released code computes it
EZNAS_A_PAPER = "frobenius_norm(sigmoid(logdet(sign(T3G_N))))"  # as the paper's text writes it
# batch size a proxy uses when none is given: the one its paper uses (others: 1, as EZNAS)
BATCH_SIZE = {"naswot": 128, "jacob_cov": 128}
MIN_BATCH = {"naswot": 2, "jacob_cov": 2}


class BatchSizeError(ValueError):
    """A proxy cannot be computed at the batch size given."""


def check_batch(name, batch_size, fix="pass a batch of {need} or more inputs"):
    """BatchSizeError when proxy ``name`` cannot be computed on ``batch_size`` inputs;
    ``fix`` says what to do in the caller's terms (Python callers: a larger batch; the
    command line: its flag, e.g. "use --batch-size >= {need}")."""
    need = MIN_BATCH.get(name, 1)
    if batch_size < need:
        why = {"naswot": "its kernel is then 1x1 and the score the log of the number of ReLU units",
               "jacob_cov": "the correlation matrix of one Jacobian is 1x1 and the score a constant"}[name]
        raise BatchSizeError(f"proxy {name} compares the inputs of a batch and is meaningless at batch size "
                             f"{batch_size} ({why}); {fix.format(need=need)} (its paper uses {BATCH_SIZE[name]})")


def _weights(model):
    return [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _ce_grads(model, x, y, loss_fn=None):
    model.zero_grad(set_to_none=True)
    (loss_fn or F.cross_entropy)(model(x), y).backward()
    return [w.grad if w.grad is not None else torch.zeros_like(w) for w in _weights(model)]


def params(model, x, y=None):
    return count_params(model)


def flops(model, x, y=None):
    return count_flops(model, (1,) + tuple(x.shape[1:]))


def grad_norm(model, x, y, loss_fn=None):
    """Sum over conv/linear layers of the L2 norm of the weight gradient."""
    model.train()
    return float(sum(g.norm() for g in _ce_grads(model, x, y, loss_fn)))


def snip(model, x, y, loss_fn=None):
    """sum |dL/dw * w| (Lee et al. 2019)."""
    model.train()
    gs = _ce_grads(model, x, y, loss_fn)
    return float(sum((g * w.detach()).abs().sum() for g, w in zip(gs, _weights(model))))


def grasp(model, x, y, loss_fn=None):
    """-sum w * (H g) (Wang et al. 2020), by double backward."""
    model.train()
    loss = loss_fn or F.cross_entropy
    ws = _weights(model)
    model.zero_grad(set_to_none=True)
    g0 = torch.autograd.grad(loss(model(x), y), ws, allow_unused=True)
    g0 = [g.detach() if g is not None else torch.zeros_like(w) for g, w in zip(g0, ws)]
    g1 = torch.autograd.grad(loss(model(x), y), ws, create_graph=True, allow_unused=True)
    z = sum((a * b).sum() for a, b in zip(g0, g1) if b is not None)
    hg = torch.autograd.grad(z, ws, allow_unused=True)
    return float(-sum((w.detach() * h).sum() for w, h in zip(ws, hg) if h is not None))


def fisher(model, x, y, loss_fn=None):
    """Sum over channels of 0.5 * mean over batch of (sum over space of a * dL/da)^2 on the
    outputs of every ReLU (Turner et al. 2020)."""
    model.train()
    acts, handles = [], []

    def keep(mod, inp, out):
        if out.requires_grad:  # a ReLU fed by a constant (a 'none' edge) has no gradient
            out.retain_grad()
            acts.append(out)

    for m in model.modules():
        if isinstance(m, nn.ReLU):
            handles.append(m.register_forward_hook(keep))
    try:
        model.zero_grad(set_to_none=True)
        (loss_fn or F.cross_entropy)(model(x), y).backward()
    finally:
        for h in handles:
            h.remove()
    total = 0.0
    for a in acts:
        if a.grad is None or a.dim() != 4:
            continue
        total += float((0.5 * (a.detach() * a.grad).sum((2, 3)).pow(2).mean(0)).sum())
    return total


def synflow(model, x, y=None):
    """sum |w * dR/dw| with R the output sum of the |weights| network on an all-ones input
    (Tanaka et al. 2020); BN in eval mode, double precision."""
    m = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        for p in m.parameters():
            p.abs_()
    m.zero_grad(set_to_none=True)
    m(torch.ones((1,) + tuple(x.shape[1:]), dtype=torch.float64)).sum().backward()
    return float(sum((w.detach() * w.grad).abs().sum() for w in _weights(m) if w.grad is not None))


def jacob_cov(model, x, y=None):
    """-sum(log(v + k) + 1/(v + k)) over eigenvalues v of the correlation matrix of the
    input Jacobians of a batch (Mellor et al. 2021), k = 1e-5."""
    check_batch("jacob_cov", len(x))
    model.train()
    xi = x.clone().requires_grad_(True)
    model.zero_grad(set_to_none=True)
    out = model(xi).sum()
    if out.requires_grad:
        out.backward()
    # an output that does not depend on the input (a cell cut off from it) has a zero Jacobian
    j = (xi.grad if xi.grad is not None else torch.zeros_like(xi)).reshape(len(x), -1)
    corr = torch.nan_to_num(torch.corrcoef(j.double()), nan=0.0)
    v = torch.linalg.eigvalsh(corr)
    k = 1e-5
    return float(-(torch.log(v + k) + 1.0 / (v + k)).sum())


def naswot_kernel(model, x):
    """The ReLU Hamming kernel K[i,j] = number of ReLU units where samples i and j share
    their on/off state (diagonal = number of ReLU units)."""
    codes, handles = [], []
    for m in model.modules():
        if isinstance(m, nn.ReLU):
            handles.append(m.register_forward_hook(lambda mod, i, o: codes.append((o.detach() > 0).reshape(len(x), -1))))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    c = torch.cat(codes, 1).double()
    return c @ c.T + (1 - c) @ (1 - c).T


def naswot(model, x, y=None):
    """log|det K| of the ReLU Hamming kernel (Mellor et al. 2021)."""
    check_batch("naswot", len(x))
    model.train()
    return float(torch.linalg.slogdet(naswot_kernel(model, x)).logabsdet)


def program_scores(model, x, programs, seed=0, how="mean", pattern="rcb", report=None, max_channels=None,
                   labels=None):
    """Scores of several programs on one collection of the model's statistics on the batch
    ``x`` (only the passes their terminals need are run).  ``programs``: {name: (program
    string, aggregate)} with aggregate 'mean' or 'sum' over layers (a program written
    ``layer_sum(...)`` / ``layer_mean(...)`` carries its own).  ``how``: a layer's tensor
    to a scalar ('mean' or 'l2').  ``report``: filled by the layer finder
    (``stats_cache.layers.find_layers``).  Returns {name: float}, NaN for a program that cannot
    apply (a network without layers, as the engine scores it).  A ``times_flops`` program's
    score is multiplied by the model's FLOPs for one input of ``x``'s shape.  ``labels``: the
    backward signal is cross-entropy against them instead of the sum of the logits
    (``stats_cache.collect.collect``)."""
    from eznas.program import (OpError, aggregate_layers, apply_factor, kinds_used, layer_values, parse,
                               split_aggregate, split_factor)
    from stats_cache.collect import collect, group_layers

    factors = {name: split_factor(parse(text))[1] for name, (text, _) in programs.items()}
    record = {"flops": count_flops(model, (1,) + tuple(x.shape[1:]))} if any(factors.values()) else {}
    parsed = {name: split_aggregate(parse(text), agg) for name, (text, agg) in programs.items()}
    kinds = {k for prefix, _ in parsed.values() for k in kinds_used(prefix)}
    groups = group_layers(collect(model, x, seed=seed, kinds=kinds, pattern=pattern, report=report,
                                  max_channels=max_channels, labels=labels))
    per_layer = {}
    for prefix, _ in parsed.values():  # each program once; NaN where it cannot apply (no layers, an op error)
        try:
            per_layer[prefix] = layer_values(prefix, groups, how)
        except OpError:
            per_layer[prefix] = None
    return {name: apply_factor(aggregate_layers(per_layer[prefix], agg), factors[name], record)
            if per_layer[prefix] is not None else float("nan") for name, (prefix, agg) in parsed.items()}


def eznas_a(model, x, y=None, program=EZNAS_A, aggregate="mean", pattern="rcb", max_channels=None):
    """EZNAS-A as the released code computes it (on T1G_D), on the collector's statistics
    of the whole batch ``x`` (``pattern`` layers; each layer's first ``max_channels``
    channels when given), per-layer values averaged over layers."""
    return program_scores(model, x, {"p": (program, aggregate)}, pattern=pattern, max_channels=max_channels)["p"]


def eznas_a_sum(model, x, y=None, pattern="rcb", max_channels=None):
    """EZNAS-A (released) with per-layer values summed over layers instead of averaged."""
    return eznas_a(model, x, y, aggregate="sum", pattern=pattern, max_channels=max_channels)


def eznas_a_paper(model, x, y=None, pattern="rcb", max_channels=None):
    """EZNAS-A as the paper's text writes it (on T3G_N), averaged over layers."""
    return eznas_a(model, x, y, program=EZNAS_A_PAPER, pattern=pattern, max_channels=max_channels)


# the baselines that are programs of the engine's language (scored on the same statistics)
PROGRAM_BASELINES = {"eznas_a": f"layer_mean({EZNAS_A})", "eznas_a_sum": f"layer_sum({EZNAS_A})",
                     "eznas_a_paper": f"layer_mean({EZNAS_A_PAPER})"}
# the discovered proxies the package ships (eznas/discovered.py): programs too
PROGRAM_BASELINES.update({name: d["program"] for name, d in DISCOVERED.items()})
LOSS_BASED = ("snip", "grasp", "fisher", "grad_norm")  # take labels and an optional loss_fn(output, labels)

BASELINES = {"params": params, "flops": flops, "synflow": synflow, "snip": snip, "grasp": grasp, "fisher": fisher,
             "grad_norm": grad_norm, "jacob_cov": jacob_cov, "naswot": naswot, "eznas_a": eznas_a,
             "eznas_a_sum": eznas_a_sum, "eznas_a_paper": eznas_a_paper,
             **{name: functools.partial(eznas_a, program=d["program"]) for name, d in DISCOVERED.items()}}
