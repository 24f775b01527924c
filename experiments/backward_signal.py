"""Does a backward signal that no BatchNorm cancels change what programs read?  N networks
of a space outside the shipped proxy's task (sampled with seed 7), each scored three ways:
the sum of the logits at batch 1 (what the stores hold), the sum at batch 2, and
cross-entropy against labels (3, 41) at batch 2 (a real gradient on TNB101 macro, see
experiments/cancelled_gradients.py).  Prints Kendall tau per proxy and signal, and writes
runs/backward_signal_<space>_<dataset>.json.

    python experiments/backward_signal.py --space tnb101_macro --dataset class_object --n 60
"""
import argparse
import json
import os

import numpy as np
import torch

from eznas.baselines import EZNAS_A, program_scores
from eznas.collection import sample_indices
from eznas.discovered import DISCOVERED
from eznas.evolve.builtin import seen_archs
from eznas.inputs import load_batch
from eznas.metrics import kendall
from eznas.spaces.complexity import count_flops, count_params
from eznas.spaces.sources import default_data, input_shape, load_ground_truth, space_max_channels

PROGRAMS = {"eznas_gf": (DISCOVERED["eznas_gf"]["program"], "mean"), "eznas_a": (EZNAS_A, "mean"),
            "eznas_a_sum": (EZNAS_A, "sum")}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--space", default="tnb101_macro")
    p.add_argument("--dataset", default="class_object")
    p.add_argument("--n", type=int, default=60)
    a = p.parse_args()
    torch.set_num_threads(1)
    gt = load_ground_truth(a.space, a.dataset)
    c, size = input_shape(a.space, a.dataset)
    mc = space_max_channels(a.space)
    seen = seen_archs(a.space)
    pool = [i for i in range(len(gt.archs)) if str(gt.archs[i]) not in seen]
    idx = [pool[j] for j in sample_indices(len(pool), a.n, 7)]
    x1, x2 = load_batch(default_data(a.space), 1, size, 0), load_batch(default_data(a.space), 2, size, 0)
    signals = {"sum, batch 1": (x1, None), "sum, batch 2": (x2, None), "cross-entropy, batch 2": (x2, torch.tensor([3, 41]))}
    rows = []
    for i in idx:
        r = {"index": i, "accuracy": float(gt.accuracy[i])}
        for tag, (x, y) in signals.items():
            torch.manual_seed(i)
            m = gt.build(gt.archs[i])
            r.update({f"{n} | {tag}": v for n, v in program_scores(m, x, PROGRAMS, max_channels=mc, labels=y).items()})
        r["flops"], r["params"] = count_flops(m, (1, c, size, size)), count_params(m)
        rows.append(r)
    acc = np.array([r["accuracy"] for r in rows])
    taus = {}
    for key in rows[0]:
        if key not in ("index", "accuracy"):
            v = np.array([r[key] for r in rows], float)
            ok = np.isfinite(v)
            taus[key] = kendall(v[ok], acc[ok])
    for k, t in taus.items():
        print(f"{k}: {t:.3f}")
    os.makedirs("runs", exist_ok=True)
    with open(os.path.join("runs", f"backward_signal_{a.space}_{a.dataset}.json"), "w") as f:
        json.dump({"taus": taus, "rows": rows}, f)


if __name__ == "__main__":
    main()
