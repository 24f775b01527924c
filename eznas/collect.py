"""Collect statistics of sampled networks of a space into a zarr store.

    python -m eznas.collect --space nb201 --dataset cifar10 \
        --ground-truth ../shared/benchmarks/nb201/nb201_test_accuracy.csv --n 80 --store runs/stats.zarr

Networks already complete in the store are skipped, so an interrupted run resumes.
"""
import argparse
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import torch
from tqdm import tqdm

from eznas.baselines import BASELINES
from eznas.spaces.complexity import count_flops, count_params
from eznas.spaces.sources import SPACES, default_data, input_shape, load_ground_truth
from stats_cache.collect import collect
from stats_cache.data import load_batch
from stats_cache.store import StatsStore, net_key


def resolve_device(device):
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def collection_config(data, batch_size, seed, dtype, pattern, signal, keep_bits=None):
    cfg = {"data": data, "batch_size": batch_size, "seed": seed, "dtype": dtype, "pattern": pattern,
           "signal": signal, "noise_scale": 0.1, "bn_mode": "train"}
    if keep_bits is not None:  # absent unless asked, so stores collected without it keep their config
        cfg["keep_bits"] = keep_bits
    return cfg


def sample_indices(total, n, seed):
    """``n`` distinct indices of ``range(total)`` fixed by ``seed`` (all when n >= total)."""
    if n >= total:
        return list(range(total))
    return sorted(random.Random(seed).sample(range(total), n))


def store_key(space, dataset):
    return f"{space}-{dataset}"


def measure_network(gt, i, data, seed, pattern="rcb", device=None, kinds=None):
    """Network ``i`` of ``gt`` as a collection sees it: built with the seed of (``seed``,
    ``i``), its statistics on the batch ``data`` (only ``kinds`` when given) and its
    size baselines.  Returns (LayerStats list, {"flops", "params", "synflow"}).  The
    stored networks and the streamed test sets both come from here, so they agree."""
    c, size = input_shape(gt.space, gt.dataset)
    torch.manual_seed(seed * 1_000_003 + i)
    model = gt.build(gt.archs[i])
    cols = gt.columns
    size_attrs = {"flops": float(cols["flops"][i]) if "flops" in cols else count_flops(model, (1, c, size, size)),
                  "params": float(cols["params"][i]) if "params" in cols else count_params(model),
                  # before the passes: synflow reads BN running statistics, which the passes change
                  "synflow": float(BASELINES["synflow"](model, data))}
    stats = collect(model, data, seed=seed * 1_000_003 + i, pattern=pattern, device=device, kinds=kinds)
    return stats, size_attrs


def collect_space(gt, store, indices, seed=0, device="cpu", progress=True):
    """Collect networks ``indices`` of ground truth ``gt`` into ``store``; returns
    (networks written, bytes written uncompressed, seconds)."""
    cfg = store.config
    data = load_batch(cfg["data"], cfg["batch_size"], input_shape(gt.space, gt.dataset)[1], seed).to(device)
    key_space = store_key(gt.space, gt.dataset)
    store.open_space(key_space)
    todo = [i for i in indices if not store.is_complete(key_space, net_key(i))]
    t0, written, nbytes = time.perf_counter(), 0, 0
    # one writer thread: network i is compressed and written while network i+1 is collected
    with ThreadPoolExecutor(max_workers=1) as writer:
        pending = []
        for i in tqdm(todo, desc=f"collect {key_space}", unit="net", disable=not progress):
            stats, size_attrs = measure_network(gt, i, data, seed, cfg["pattern"], device)
            attrs = {"arch": gt.archs[i], "index": int(i), "accuracy": float(gt.accuracy[i]), **size_attrs,
                     "seed": seed, "batch_size": cfg["batch_size"]}
            while len(pending) >= 2:  # bound the statistics waiting to be written
                nbytes += pending.pop(0).result()
                written += 1
            pending.append(writer.submit(store.write_network, key_space, net_key(i), stats, attrs))
        for f in pending:
            nbytes += f.result()
            written += 1
    return written, nbytes, time.perf_counter() - t0


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m eznas.collect", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--space", required=True, choices=SPACES)
    p.add_argument("--dataset", default=None, help="cifar10, cifar100, imagenet16-120 (built-in spaces: digits)")
    p.add_argument("--ground-truth", default=None, help="ground-truth file (not needed for built-in spaces)")
    p.add_argument("--n", type=int, default=80, help="networks to sample")
    p.add_argument("--store", required=True, help="store path or fsspec URL")
    p.add_argument("--data", default=None, help="photos, digits, folder:PATH or cifar:PATH (default by space)")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", default="float32", choices=["float16", "float32"],
                   help="float32 (default) keeps the statistics that exported programs see when scoring; "
                        "float16 halves the disk but changes precision-sensitive programs' scores")
    p.add_argument("--keep-bits", type=int, default=None,
                   help="float32 with each mantissa rounded to this many bits (1..23; 7 = bfloat16's precision): "
                        "lossy, smaller on disk, float32's range (no float16 underflow)")
    p.add_argument("--pattern", default="rcb", choices=["rcb", "cbr"])
    p.add_argument("--device", default="auto")
    a = p.parse_args(argv)
    try:
        gt = load_ground_truth(a.space, a.dataset, a.ground_truth)
        cfg = collection_config(a.data or default_data(a.space), a.batch_size, a.seed, a.dtype, a.pattern, "sum", a.keep_bits)
        store = StatsStore(a.store, "a", config=cfg)
    except (ValueError, OSError) as e:
        sys.exit(f"error: {e}")
    idx = sample_indices(len(gt), a.n, a.seed)
    n, nbytes, secs = collect_space(gt, store, idx, a.seed, resolve_device(a.device))
    key = store_key(gt.space, gt.dataset)
    total = len(store.networks(key))
    print(f"{key}: wrote {n} networks in {secs:.1f} s ({n / max(secs, 1e-9):.2f} net/s); "
          f"{total} complete in {a.store}; {store.bytes_on_disk() / 1e6:.1f} MB on disk "
          f"({nbytes / 1e6:.1f} MB uncompressed this run)")


if __name__ == "__main__":
    main()
