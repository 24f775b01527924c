"""Builder check for NAS-Bench-101: every network of the shared NAS-Bench-Suite-Zero sample
(../shared/benchmarks/nb101/nb101_500_cifar10.csv) built by eznas.spaces.nb101, its
parameters and FLOPs (one 32x32 input) against the file's reference ``params`` / ``flops``
columns (NASLib's, computed with tensorwatch's ModelStats on the nasbench_pytorch network).

    python experiments/check_builders_nb101.py [--csv FILE] [--n N] [--tol 0.005]

Prints a markdown table: networks checked, params matches, FLOPs matches (within ``--tol``
relative), and every mismatch with its architecture.  How the references count:

- params: every parameter of every module that runs, the head included (the dense layer
  512 x 10 plus its 10 biases = 5,130); this is ``eznas.spaces.complexity.count_params``;
- FLOPs: tensorwatch's convention, reproduced here: per Conv2d the multiply-accumulates,
  per BatchNorm2d 2 x its input's elements, per ReLU its input's elements, per max pool
  k*k x its output's elements, per Linear in x out (the head's 5,120; no bias term); the
  global average pool is ``torch.mean`` in the reference and counts nothing.  The engine's
  own ``count_flops`` (Conv2d and Linear multiply-accumulates only, the NAS-Bench-201
  convention) is printed beside it for information.
One network at a time, no gradients: about a minute on one core.
"""
import argparse
import csv
import math
import os
import sys
import time

import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSV = os.path.join(ROOT, "..", "shared", "benchmarks", "nb101", "nb101_500_cifar10.csv")


def reference_flops(model, size=32, channels=3):
    """FLOPs (millions) in tensorwatch's ModelStats convention (see the module docstring)."""
    total = [0]

    def pair(v):
        return (v, v) if isinstance(v, int) else tuple(v)

    def hook(m, inp, out):
        x = inp[0]
        if isinstance(m, nn.Conv2d):
            kh, kw = m.kernel_size
            total[0] += out.shape[0] * out.shape[2] * out.shape[3] * kh * kw * (x.shape[1] // m.groups) * out.shape[1]
        elif isinstance(m, nn.BatchNorm2d):
            total[0] += x.numel() * (2 if m.affine else 1)
        elif isinstance(m, nn.ReLU):
            total[0] += x.numel()
        elif isinstance(m, nn.MaxPool2d):
            (kh, kw), (sh, _), (ph, pw) = pair(m.kernel_size), pair(m.stride), pair(m.padding)
            oh = math.floor((x.shape[2] + 2 * ph - kh) / sh + 1)
            ow = math.floor((x.shape[3] + 2 * pw - kw) / sh + 1)
            total[0] += x.shape[0] * x.shape[1] * oh * ow * kh * kw
        elif isinstance(m, nn.Linear):
            total[0] += x.shape[0] * m.in_features * m.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d, nn.Linear))]
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, channels, size, size))
    finally:
        for h in handles:
            h.remove()
    return total[0] / 1e6


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--csv", default=CSV, help="NAS-Bench-Suite-Zero CSV with arch, params, flops")
    p.add_argument("--n", type=int, default=0, help="check only the first N rows (default: all)")
    p.add_argument("--tol", type=float, default=0.005, help="relative tolerance of a match")
    a = p.parse_args(argv)

    from eznas.spaces import nb101
    from eznas.spaces.complexity import count_flops, count_params

    torch.set_num_threads(1)
    with open(a.csv, newline="") as f:
        rows = list(csv.DictReader(f))
    if a.n:
        rows = rows[:a.n]
    t0 = time.perf_counter()
    checked, p_ok, f_ok, exact_p, exact_f, bad, built = 0, 0, 0, 0, 0, [], {}
    for k, r in enumerate(rows, start=1):
        try:
            arch = nb101.parse_naslib(r["arch"])
        except ValueError as e:
            bad.append((k, r["arch"], "-", "-", f"not converted: {e}"))
            continue
        if arch not in built:  # duplicates of a pruned cell build the same network
            net = nb101.build(arch, init=False)
            built[arch] = (count_params(net), reference_flops(net), count_flops(net))
        params, flops, engine_flops = built[arch]
        ref_p, ref_f = float(r["params"]), float(r["flops"])
        checked += 1
        pm = abs(params - ref_p) <= a.tol * ref_p
        fm = abs(flops - ref_f) <= a.tol * ref_f
        p_ok += pm
        exact_p += abs(params - ref_p) < 5e-7
        exact_f += abs(flops - ref_f) < 5e-7
        f_ok += fm
        if not (pm and fm):
            cause = []
            if not pm:
                cause.append(f"params {params:.6f} vs {ref_p:.6f}")
            if not fm:
                cause.append(f"FLOPs {flops:.6f} vs {ref_f:.6f} (conv+linear only: {engine_flops:.3f})")
            bad.append((k, arch, f"{params:.6f}/{ref_p:.6f}", f"{flops:.3f}/{ref_f:.3f}", "; ".join(cause)))
    secs = time.perf_counter() - t0

    print(f"## NAS-Bench-101 builder check ({os.path.basename(a.csv)})\n")
    print("| networks checked | distinct cells built | params matches | FLOPs matches | params exact | FLOPs exact "
          "| seconds |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {checked} | {len(built)} | {p_ok} | {f_ok} | {exact_p} | {exact_f} | {secs:.0f} |")
    print(f"\nMatch: within {a.tol:.1%} relative; exact: equal to the reference's 6 decimals (millions).  "
          "Head counted in both: params include the dense layer "
          "(512 x 10 weights + 10 biases); FLOPs count it as 512 x 10 multiply-accumulates (tensorwatch "
          "convention: conv MACs + 2 x BN elements + ReLU elements + k*k x max-pool outputs + linear in x out; "
          "the average pool counts nothing).")
    if bad:
        print("\n| row | arch | params ours/ref | FLOPs ours/ref | cause |\n|---|---|---|---|---|")
        for row in bad:
            print("| " + " | ".join(str(c) for c in row) + " |")
    else:
        print("\nNo mismatches.")
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
