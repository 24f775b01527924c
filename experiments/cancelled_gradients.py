"""Where does a BatchNorm cancel the backward signal?  For every real space, N networks
(every 1/N of its table), collected as the built-in task collects them (photos, batch 1,
sum of the logits, seed 0): how many have layers whose BatchNorm received a uniform,
non-zero gradient (``stats_cache.collect.cancelled_layers``; their gradient statistics and
those of the layers feeding only them are rounding noise).

    python experiments/cancelled_gradients.py --n 12
"""
import argparse

import torch

from eznas.collection import measure_network
from eznas.evolve.builtin import TASK
from eznas.inputs import load_batch
from eznas.spaces.sources import default_data, input_shape, load_ground_truth, space_max_channels, space_pattern
from stats_cache.collect import cancelled_layers


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=12)
    a = p.parse_args()
    torch.set_num_threads(1)
    print("| space | networks | with cancelled layers | cancelled layers per network (of all) |")
    print("|---|---|---|---|")
    for sp, ds in TASK:
        gt = load_ground_truth(sp, ds)
        c, size = input_shape(sp, ds)
        data = load_batch(default_data(sp), 1, size, 0)
        step = max(1, len(gt.archs) // a.n)
        res = []
        for i in list(range(0, len(gt.archs), step))[:a.n]:
            stats, _ = measure_network(gt, i, data, 0, space_pattern(sp), kinds=["T4G_D"],
                                       max_channels=space_max_channels(sp))
            res.append((len(cancelled_layers(stats, "D")), len(stats)))
        print(f"| {sp}/{ds} | {len(res)} | {sum(k > 0 for k, _ in res)} | "
              f"{', '.join(f'{k}/{n}' for k, n in res)} |", flush=True)


if __name__ == "__main__":
    main()
