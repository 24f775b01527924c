"""What a program responds to (the EZNAS paper's Figure 6, for any program).

- ``sweep``: the program's expected per-layer value on random statistics of one layer
  (every tensor standard normal, shaped as a ReLU-Conv-BN layer with ``cin`` input and
  ``cout`` output channels, a ``k`` x ``k`` kernel and ``hw`` x ``hw`` activations, batch
  ``batch``), as one of those four is swept with the others fixed, averaged over ``draws``
  random draws.  A program that reads only shapes gives the same value on every draw.
- ``contributions``: on a real network, each layer's value and its share of the score,
  so a user can see which layers drive the ranking.
"""
import torch

from eznas.program import OpError, layer_values, parse, split_aggregate
from stats_cache.schema import KINDS

BASE = {"cin": 16, "cout": 16, "k": 3, "hw": 8}
SWEEPS = {"cin": (4, 8, 16, 32, 64), "cout": (4, 8, 16, 32, 64), "k": (1, 3, 5, 7), "hw": (4, 8, 16, 32)}


def random_layer(cin, cout, k, hw, batch=1, generator=None, layers=1):
    """{kind: tensor (layers, *shape)} of random statistics of a ReLU-Conv-BN layer."""
    shapes = {"T1": (batch, cin, hw, hw), "T2": (batch, cout, hw, hw), "T4": (batch, cout, hw, hw),
              "T3": (cout, cin, k, k)}
    return {kind: torch.randn((layers,) + shapes[kind[:2]], generator=generator) for kind in KINDS}


def expected_value(program, cin, cout, k, hw, draws=64, batch=1, seed=0, how="mean"):
    """(mean, std) over ``draws`` of the program's per-layer value on random statistics;
    NaN when it cannot apply to that shape."""
    prefix = split_aggregate(parse(program))[0]
    g = torch.Generator().manual_seed(seed)
    env = random_layer(cin, cout, k, hw, batch, g, layers=draws)  # the draws ride the layer axis
    try:
        vals = layer_values(prefix, [(list(range(draws)), env)], how)
    except OpError:
        return float("nan"), float("nan")
    vals = vals[torch.isfinite(vals)]
    if len(vals) == 0:
        return float("nan"), float("nan")
    return float(vals.mean()), float(vals.std()) if len(vals) > 1 else 0.0


def resolve(program):
    """(label, program string, layer-to-scalar rule) of a program string, an EZNAS-A
    baseline or a run directory (``RUN``: its program_0, ``RUN:program_k``)."""
    from eznas.baselines import PROGRAM_BASELINES
    from eznas.program import ProgramError, shown
    from eznas.score import run_program

    if program in PROGRAM_BASELINES:
        return program, PROGRAM_BASELINES[program], "mean"
    prog = run_program(program)
    if prog is not None:
        return f"{prog.name} of {program.rpartition(':')[0] if ':' in program else program}", prog.text, prog.to_scalar
    try:
        parse(program)
    except ProgramError as e:
        raise ValueError(f"PROGRAM {shown(program)} is neither a program, a program baseline nor a run "
                         f"directory: {e.reason}") from None
    return program, program, "mean"


def analyze(program, draws=64, batch=1, seed=0):
    """The sweeps of ``sweep`` for a program string, an EZNAS-A baseline or a run's
    program: {parameter: [(value, mean, std)]}."""
    _, text, how = resolve(program)
    return sweep(text, draws, batch, seed, how)


def sweep(program, draws=64, batch=1, seed=0, how="mean", sweeps=SWEEPS, base=BASE):
    """{parameter: [(value, mean, std)]}: each of cin, cout, k, hw swept, the others at ``base``."""
    return {param: [(v, *expected_value(program, **{**base, param: v}, draws=draws, batch=batch, seed=seed, how=how))
                    for v in values] for param, values in sweeps.items()}


def sweep_table(results, base=BASE):
    names = {"cin": "input channels", "cout": "output channels", "k": "kernel size", "hw": "spatial size"}
    lines = ["| swept (others: " + ", ".join(f"{k}={v}" for k, v in base.items()) + ") | value | mean | std |", "|---|---|---|---|"]
    for param, rows in results.items():
        lines += [f"| {names[param]} | {v} | {m:.4g} | {s:.3g} |" for v, m, s in rows]
    return "\n".join(lines)


def sweep_plot(results, path, title=""):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(3.2 * len(results), 3))
    for ax, (param, rows) in zip(axes, results.items()):
        x = [v for v, _, _ in rows]
        m = [mm for _, mm, _ in rows]
        s = [ss for _, _, ss in rows]
        ax.errorbar(x, m, yerr=s, marker="o", capsize=3)
        ax.set_xlabel({"cin": "input channels", "cout": "output channels", "k": "kernel size", "hw": "spatial size"}[param])
        if param != "k":
            ax.set_xscale("log", base=2)
    axes[0].set_ylabel("expected per-layer value")
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def contributions(program, model, x, seed=0, how="mean", pattern="rcb", max_channels=None):
    """[(layer name, shape summary, value, share of the network's score)] on ``model``
    (statistics of the batch ``x``, collected on a copy, of each layer's first
    ``max_channels`` channels when given, as a collection of its space records them)."""
    import copy

    from stats_cache.collect import collect, group_layers

    prefix, aggregate = split_aggregate(parse(program))
    stats = collect(copy.deepcopy(model), x, seed=seed, pattern=pattern, max_channels=max_channels)
    groups = group_layers(stats)
    vals = layer_values(prefix, groups, how)
    order = [i for idx, _ in groups for i in idx]
    per = {i: float(v) for i, v in zip(order, vals)}
    total = sum(per.values())
    out = []
    for i, s in enumerate(stats):
        w = s.tensors["T3"].shape if "T3" in s.tensors else ()
        shape = f"{w[1]}->{w[0]} k{w[2]}" if len(w) == 4 else ""
        out.append((s.name, shape, per[i], per[i] / total if total else float("nan")))
    return out
