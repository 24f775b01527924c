"""Collection throughput and storage size, NAS-Bench-201 networks (C=16, N=5) at batch 1.

    python experiments/bench_collect.py --n 10 [--programs 80] [--device auto]

Prints networks per second for: the three forward+backward passes alone (the floor),
collect() (statistics captured), and collect + store write (float32, float32 with the
mantissa rounded to 7 bits, float16; zstd),
and bytes per network on disk against a torch.save of the same tensors (the baseline,
measured in the same run).  Targets: >= 2 networks/s on CPU, >= 10 on GPU, <= 25 % bytes.
"""
import argparse
import os
import random
import shutil
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import Timer, machine  # noqa: E402

import numpy as np  # noqa: E402

from eznas.collection import collect_space, collection_config, resolve_device, store_key  # noqa: E402
from eznas.spaces.benchmarks import GroundTruth  # noqa: E402
from eznas.spaces import nb201  # noqa: E402
from stats_cache.collect import collect, make_inputs  # noqa: E402
from eznas.inputs import load_batch  # noqa: E402
from stats_cache.store import StatsStore  # noqa: E402
from bench_fitness import programs  # noqa: E402
from eznas.parallel import score_items  # noqa: E402
from scipy.stats import kendalltau  # noqa: E402


def passes_only(model, x):
    model.train()
    for inp in make_inputs(x, 0).values():
        model.zero_grad(set_to_none=True)
        model(inp).sum().backward()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=10)
    p.add_argument("--device", default="auto")
    p.add_argument("--programs", type=int, default=80, help="programs scored from each store (fidelity of lossy storage)")
    a = p.parse_args()
    dev = resolve_device(a.device)
    archs = [nb201.product_string(i) for i in random.Random(0).sample(range(nb201.N_ARCHS), a.n)]
    x = load_batch("photos", 1, 32, 0).to(dev)

    def models():
        for i, arch in enumerate(archs):
            torch.manual_seed(i)
            yield nb201.build(arch).to(dev)

    tmp = tempfile.mkdtemp()
    warm = nb201.build(nb201.BEST_CIFAR10).to(dev)  # first-call costs (allocator, kernels) kept out of the timings
    passes_only(warm, x)
    collect(warm, x, seed=0)
    try:
        with Timer() as t_pass:
            for m in models():
                passes_only(m, x)
        with Timer() as t_collect:
            stats = [collect(m, x, seed=0) for m in models()]
        saved = os.path.join(tmp, "t.pt")
        torch.save([[s.tensors for s in st] for st in stats[:3]], saved)
        torch_bytes = os.path.getsize(saved) / 3
        rows, scores = [], {}
        progs = programs(a.programs, "random")  # EZNAS-A and random programs: how far lossy storage moves scores
        gt = GroundTruth("nb201", "cifar10", archs, np.zeros(len(archs)), {}, {}, "benchmark sample")
        for dtype, keep in (("float32", None), ("float32", 7), ("float32", 4), ("float16", None)):
            # the product's path: eznas.collection.collect_space (writer thread overlapping collection)
            label = dtype if keep is None else f"{dtype} keep_bits={keep}"
            store = StatsStore(os.path.join(tmp, f"{dtype}-{keep}.zarr"), "a",
                               config=collection_config("photos", 1, 0, dtype, "rcb", "sum", keep))
            with Timer() as t_all:
                collect_space(gt, store, list(range(a.n)), 0, dev, progress=False)
            on_disk = store.bytes_on_disk() / a.n
            rows.append((label, a.n / t_all.s, on_disk))
            key = store_key("nb201", "cifar10")
            scores[label] = score_items(store.url, progs, [(key, k) for k in store.networks(key)])
        layers = sum(len(st) for st in stats) / len(stats)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"machine: {machine()}; device {dev}; {a.n} NB201 networks, {layers:.1f} RCB layers each, batch 1")
    print("| stage | networks/s | vs passes only |\n|---|---|---|")
    print(f"| 3 forward+backward passes only | {a.n / t_pass.s:.2f} | 1.00 |")
    print(f"| collect() (22 tensors per layer) | {a.n / t_collect.s:.2f} | {t_pass.s / t_collect.s:.2f} |")
    for dtype, rate, _ in rows:
        print(f"| collect_space: build + collect + write {dtype} | {rate:.2f} | {rate * t_pass.s / a.n:.2f} |")
    print(f"\n| storage | MB per network | vs torch.save | programs ranking the {a.n} networks as from float32 "
          f"(Kendall tau, lossy vs float32: mean, worst) |\n|---|---|---|---|")
    print(f"| torch.save (float32, baseline) | {torch_bytes / 1e6:.1f} | 1.00 | |")
    ref = scores[rows[0][0]]
    for label, _, b in rows:
        ok = np.isfinite(ref).all(1) & np.isfinite(scores[label]).all(1)
        taus = [kendalltau(ref[i], scores[label][i])[0] for i in np.flatnonzero(ok)]
        taus = [t if np.isfinite(t) else 1.0 for t in taus]  # constant in both: same ranking
        same = np.mean([abs(t - 1.0) < 1e-9 for t in taus])
        print(f"| zarr {label} | {b / 1e6:.1f} | {b / torch_bytes:.3f} | "
              f"{np.mean(taus):.3f}, {np.min(taus):.3f} ({same:.0%} of {len(taus)} valid programs identical) |")


if __name__ == "__main__":
    main()
