"""What a program responds to: its expected per-layer value on random statistics of one
layer as input channels, output channels, kernel size and spatial size are swept (the
EZNAS paper's Figure 6), and each layer's share of its score on a real network.

    eznas analyze eznas_a_paper
    eznas analyze "layer_sum(frobenius_norm(T4_N))" --space nb201 --arch "|nor_conv_3x3~0|+|..."
    eznas analyze runs/<run>            # the run's program_0

Prints the program analysed (its name and string) and writes <out>/analyze.md (the same,
and the tables) and <out>/sweep.png; --out defaults to a folder per program,
runs/analyze/NAME (a baseline's or shipped proxy's name, RUN-program_k for a run's
program, program-HASH for a program string), and a folder holding another program's
analysis is refused, not overwritten.
"""
import hashlib
import logging
import os
import re

from eznas.cli import output_path, positive_int

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
    p.add_argument("--out", default=None, help="folder written (default: runs/analyze/NAME, one per program)")


PROGRAM_LINE = re.compile(r"^Program: `(.*)`$", re.M)


def out_folder(program, text):
    """runs/analyze/NAME for ``program`` (as given) computing ``text``: a name as given, a
    run's RUN-program_k, else program-<first 10 hex digits of the string's SHA-256>."""
    from eznas.nas.proxy_scores import proxy_name

    name = proxy_name(program)
    if name == "program" or not re.fullmatch(r"[\w.+-]+", name):
        name = f"program-{hashlib.sha256(text.encode()).hexdigest()[:10]}"
    return os.path.join("runs", "analyze", name)


def check_out(out, text):
    """Refuse (ValueError) a folder whose analyze.md is another program's analysis."""
    path = os.path.join(out, "analyze.md")
    if not os.path.isfile(path):
        return
    with open(path) as f:
        m = PROGRAM_LINE.search(f.read())
    if m and m.group(1) != text:
        raise ValueError(f"--out {out} holds the analysis of another program (`{m.group(1)}`); give another --out, "
                         f"or remove that folder (nothing was written)")


def run(a):
    import torch

    from eznas.analyze import contributions, resolve, sweep, sweep_plot, sweep_table
    from eznas.inputs import load_batch
    from eznas.spaces.registry import get

    label, text, how = resolve(a.program)
    out = a.out or out_folder(a.program, text)
    output_path(out, "--out", folder=True)
    check_out(out, text)
    print(f"program: {label}" + ("" if label == text else f" = {text}"))
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
    os.makedirs(out, exist_ok=True)
    md = [f"# {label}", "", f"Program: `{text}`", "",
          f"## Expected per-layer value on random statistics ({a.draws} draws, batch {a.batch_size}, seed {a.seed})", "",
          sweep_table(results), "", f"## Per-layer contributions on {a.space} `{arch}`", "",
          "| layer | conv (in->out, kernel) | value | share of the score |", "|---|---|---|---|"]
    md += [f"| {n} | {shape} | {v:.4g} | {s:.1%} |" for n, shape, v, s in rows]
    path = os.path.join(out, "analyze.md")
    with open(path, "w") as f:
        f.write("\n".join(md) + "\n")
    sweep_plot(results, os.path.join(out, "sweep.png"), f"{label}: expected per-layer value, others at 16/16/3/8")
    print(sweep_table(results))
    top = sorted(rows, key=lambda r: -abs(r[2]))[:5]
    print("\nlayers with the largest values: " + "; ".join(f"{n} ({shape}) {s:.1%}" for n, shape, _, s in top))
    print(f"\nwritten: {path}, {os.path.join(out, 'sweep.png')}")
