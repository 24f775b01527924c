"""What a program responds to: its expected per-layer value on random statistics of one
layer as input channels, output channels, kernel size and spatial size are swept (the
EZNAS paper's Figure 6), and each layer's share of its score on a real network.

    eznas analyze eznas_a_paper
    eznas analyze "layer_sum(frobenius_norm(T4_N))" --space nb201 --arch "|nor_conv_3x3~0|+|..."
    eznas analyze runs/<run>            # the run's program_0

Writes <out>/analyze.md (tables) and <out>/sweep.png.
"""
import logging
import os

from eznas.cli import positive_int

HELP = "what a program responds to: random-statistics sweeps and per-layer contributions"
log = logging.getLogger("eznas.analyze")


def add_arguments(p):
    p.add_argument("program", help="a program string, a program baseline (eznas_a, eznas_a_sum, eznas_a_paper), "
                                   "a shipped discovered proxy (eznas_gf) or a run directory (RUN: its program_0, "
                                   "or RUN:program_k)")
    p.add_argument("--draws", type=positive_int, default=64, help="random draws averaged per point")
    p.add_argument("--batch-size", type=positive_int, default=1, help="batch of the random activations")
    p.add_argument("--seed", type=int, default=0, help="seed of the random statistics and the network")
    p.add_argument("--space", default="nb201", help="space of the real network for per-layer contributions")
    p.add_argument("--arch", default=None, help="its architecture (default: the space's first sampled one)")
    p.add_argument("--out", default="runs/analyze", help="folder written")


def run(a):
    import torch

    from eznas.analyze import contributions, resolve, sweep, sweep_plot, sweep_table
    from eznas.inputs import load_batch
    from eznas.spaces.registry import get

    label, text, how = resolve(a.program)
    results = sweep(text, a.draws, a.batch_size, a.seed, how)
    sp = get(a.space)
    if a.arch:
        arch = a.arch
    elif sp.arch_of:
        arch = sp.sample(1, a.seed)[0]
    else:  # a space that cannot be enumerated (NB101): the first network of its table
        from eznas.spaces.sources import load_ground_truth

        arch = load_ground_truth(a.space).archs[0]
    sp.check(arch)
    c, size = sp.input_shape(sp.datasets[0])
    torch.manual_seed(a.seed)
    model = sp.build(arch, in_channels=c)
    x = load_batch(sp.default_data, a.batch_size, size, a.seed)
    rows = contributions(text, model, x, a.seed, how, sp.pattern, sp.max_channels)
    os.makedirs(a.out, exist_ok=True)
    md = [f"# {label}", "", f"Program: `{text}`", "",
          f"## Expected per-layer value on random statistics ({a.draws} draws, batch {a.batch_size}, seed {a.seed})", "",
          sweep_table(results), "", f"## Per-layer contributions on {a.space} `{arch}`", "",
          "| layer | conv (in->out, kernel) | value | share of the score |", "|---|---|---|---|"]
    md += [f"| {n} | {shape} | {v:.4g} | {s:.1%} |" for n, shape, v, s in rows]
    path = os.path.join(a.out, "analyze.md")
    with open(path, "w") as f:
        f.write("\n".join(md) + "\n")
    sweep_plot(results, os.path.join(a.out, "sweep.png"), f"{label}: expected per-layer value, others at 16/16/3/8")
    print(sweep_table(results))
    top = sorted(rows, key=lambda r: -abs(r[2]))[:5]
    print("\nlayers with the largest values: " + "; ".join(f"{n} ({shape}) {s:.1%}" for n, shape, _, s in top))
    print(f"\nwritten: {path}, {os.path.join(a.out, 'sweep.png')}")
