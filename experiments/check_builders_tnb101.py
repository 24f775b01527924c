"""Check our TransNAS-Bench-101 builders against the reference params / FLOPs.

    python experiments/check_builders_tnb101.py [--shared ../shared/benchmarks/transnas101]

For every network of ``<space>/class_object_proxies.csv`` and ``class_scene_proxies.csv``
(NAS-Bench-Suite-Zero, computed by NASLib) it builds our network and compares
- params: all parameters of the model, classification head included, in millions;
- FLOPs: at the input the reference used, 1 x 3 x 256 x 256, in the convention of the tool
  NASLib used (tensorwatch's torchstat counter): per leaf module that runs, Conv2d
  multiply-accumulates (+ bias), BatchNorm2d 2 x its input size, ReLU its input size,
  AdaptiveAvgPool2d C (H+1) (W+1), Linear multiply-accumulates; in millions.

The head is built the way NASLib built it for those numbers: Linear(C, 100) for
class_object and Linear(C, 63) for class_scene (``tnb101.NASLIB_HEAD``; TransNAS-Bench-101
itself has 75 / 47 classes, which our spaces use).  Networks are built on the meta device
(shapes only, no memory and no arithmetic), so every network is checked in seconds.
A match is within 0.5 % relative or 1e-3 M.
"""
import argparse
import csv
import os
import sys
import time

import torch
import torch.nn as nn

from eznas.spaces import tnb101

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SHARED = os.path.join(HERE, "..", "..", "shared", "benchmarks", "transnas101")
REF_SIZE = 256
SPACES = {"macro": ("tnb101_macro", tnb101.build_macro), "micro": ("tnb101_micro", tnb101.build_micro)}


def reference_flops(model, shape):
    """FLOPs as tensorwatch counts them (see the module docstring), in millions."""
    total = [0]

    def hook(m, inp, out):
        x = inp[0]
        if isinstance(m, nn.Conv2d):
            pos = out.shape[0] * out.shape[2] * out.shape[3]
            f = m.kernel_size[0] * m.kernel_size[1] * x.shape[1] * (out.shape[1] // m.groups) * pos
            f += out.shape[1] * pos if m.bias is not None else 0
        elif isinstance(m, nn.BatchNorm2d):
            f = x.numel() * (2 if m.affine else 1)
        elif isinstance(m, nn.ReLU):
            f = x.numel()
        elif isinstance(m, nn.AdaptiveAvgPool2d):  # output 1 x 1
            f = x.shape[0] * x.shape[1] * (x.shape[2] + 1) * (x.shape[3] + 1)
        elif isinstance(m, nn.Linear):
            f = x.shape[0] * x.shape[1] * out.shape[1]
        else:
            f = 0
        total[0] += f

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(shape, device="meta"))
    finally:
        for h in handles:
            h.remove()
    return total[0] / 1e6


def close(a, b):
    return abs(a - b) <= max(1e-3, 5e-3 * abs(b))


def check(shared, sub, task):
    space, build = SPACES[sub]
    with open(os.path.join(shared, sub, f"{task}_proxies.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    n_params = n_flops = 0
    bad = []
    for r in rows:
        arch = tnb101.from_naslib(space, r["arch"])
        with torch.device("meta"):
            net = build(arch, num_classes=tnb101.NASLIB_HEAD[task], init=False)
        params = sum(p.numel() for p in net.parameters()) / 1e6
        flops = reference_flops(net, (1, 3, REF_SIZE, REF_SIZE))
        ok_p, ok_f = close(params, float(r["params"])), close(flops, float(r["flops"]))
        n_params += ok_p
        n_flops += ok_f
        if not (ok_p and ok_f):
            bad.append(f"{arch} {r['arch']}: params {params:.6f} vs {r['params']}, flops {flops:.3f} vs {r['flops']}")
    return len(rows), n_params, n_flops, bad


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shared", default=DEFAULT_SHARED, help="the transnas101 folder of the shared benchmarks")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    print("| space | task | networks checked | params match | FLOPs match (256 px) |")
    print("|---|---|---|---|---|")
    mismatches = []
    for sub in SPACES:
        for task in tnb101.DATASETS:
            n, np_, nf, bad = check(a.shared, sub, task)
            print(f"| tnb101_{sub} | {task} | {n} | {np_} | {nf} |")
            mismatches += [f"tnb101_{sub} {task}: {b}" for b in bad]
    print()
    print("Params: every parameter of the model, head included (NASLib's Linear(C, 100) for class_object, "
          "Linear(C, 63) for class_scene). FLOPs: tensorwatch's convention at 1x3x256x256 (conv + BN + ReLU + "
          "pool + linear), head included.")
    print(f"Mismatches: {len(mismatches)}" + "".join(f"\n- {m}" for m in mismatches))
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
