"""Collecting a space's statistics into a store: which networks (sampled with a seed),
how each is built and measured, and the loop that writes them (``eznas collect`` is its
command line).  Networks already complete in the store are skipped, so an interrupted
collection resumes."""
import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor

import torch
from tqdm import tqdm

from eznas.baselines import BASELINES
from eznas.spaces.complexity import count_flops, count_params
from eznas.spaces.sources import input_shape
from stats_cache.collect import cancelled_layers, collect
from eznas.inputs import load_batch
from stats_cache.store import net_key


def resolve_device(device):
    """'auto' (CUDA when there is one) or any torch device name; ValueError otherwise."""
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        torch.device(device)
    except RuntimeError:
        raise ValueError(f"--device {device!r} is not a device (auto, cpu, cuda, cuda:1, ...)") from None
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: CUDA is not available on this machine")
    return device


def collection_config(data, batch_size, seed, dtype, pattern, signal, keep_bits=None, max_channels=None):
    cfg = {"data": data, "batch_size": batch_size, "seed": seed, "dtype": dtype, "pattern": pattern,
           "signal": signal, "noise_scale": 0.1, "bn_mode": "train"}
    if keep_bits is not None:  # absent unless asked, so stores collected without it keep their config
        cfg["keep_bits"] = keep_bits
    if max_channels:  # likewise: statistics of each layer's first max_channels channels (stats_cache.schema)
        cfg["max_channels"] = int(max_channels)
    return cfg


def sample_indices(total, n, seed):
    """``n`` distinct indices of ``range(total)`` fixed by ``seed`` (all when n >= total)."""
    if n >= total:
        return list(range(total))
    return sorted(random.Random(seed).sample(range(total), n))


def store_key(space, dataset):
    return f"{space}-{dataset}"


def measure_network(gt, i, data, seed, pattern="rcb", device=None, kinds=None, max_channels=None):
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
    stats = collect(model, data, seed=seed * 1_000_003 + i, pattern=pattern, device=device, kinds=kinds,
                    max_channels=max_channels)
    return stats, size_attrs


COLLECT_THREADS = 1  # torch threads while collecting (versions.json records it with the CPU kernel)


def collect_space(gt, store, indices, seed=0, device="cpu", progress=True):
    """Collect networks ``indices`` of ground truth ``gt`` into ``store``; returns
    (networks written, bytes written uncompressed, seconds).  Runs on one torch thread:
    a convolution's sums are split by thread, so another thread count changes the last
    bits of every statistic, and where a BatchNorm cancelled the gradient
    (``cancelled_layers``) the whole of the rounding noise left there."""
    cfg = store.config
    data = load_batch(cfg["data"], cfg["batch_size"], input_shape(gt.space, gt.dataset)[1], seed).to(device)
    key_space = store_key(gt.space, gt.dataset)
    store.open_space(key_space)
    todo = [i for i in indices if not store.is_complete(key_space, net_key(i))]
    old_threads = torch.get_num_threads()
    torch.set_num_threads(COLLECT_THREADS)  # the same sums whatever the machine's core count
    try:
        return _collect(gt, store, todo, data, key_space, cfg, seed, device, progress)
    finally:
        torch.set_num_threads(old_threads)


def _collect(gt, store, todo, data, key_space, cfg, seed, device, progress):
    t0, written, nbytes = time.perf_counter(), 0, 0
    cancelled = []  # (network, layers whose BatchNorm cancelled the backward signal, layers)
    # one writer thread: network i is compressed and written while network i+1 is collected
    with ThreadPoolExecutor(max_workers=1) as writer:
        pending = []
        for i in tqdm(todo, desc=f"collect {key_space}", unit="net", disable=not progress):
            stats, size_attrs = measure_network(gt, i, data, seed, cfg["pattern"], device,
                                                max_channels=cfg.get("max_channels"))
            attrs = {"arch": gt.archs[i], "index": int(i), "accuracy": float(gt.accuracy[i]), **size_attrs,
                     "seed": seed, "batch_size": cfg["batch_size"]}
            lost = cancelled_layers(stats, "D")
            if lost:
                cancelled.append((i, len(lost), len(stats)))
            while len(pending) >= 2:  # bound the statistics waiting to be written
                nbytes += pending.pop(0).result()
                written += 1
            pending.append(writer.submit(store.write_network, key_space, net_key(i), stats, attrs))
        for f in pending:
            nbytes += f.result()
            written += 1
    if cancelled:  # one line per collection, not one per network
        logging.getLogger("eznas.collect").warning(
            f"{key_space}: in {len(cancelled)} of {len(todo)} networks collected, a BatchNorm received the same gradient "
            f"at every position and batch element (e.g. BatchNorm then global pooling, with the loss giving every "
            f"batch element the same gradient) and cancelled it, in {sum(c for _, c, _ in cancelled)} layers in all "
            f"(network {cancelled[0][0]}: {cancelled[0][1]} of {cancelled[0][2]}); the gradient statistics (T*G) "
            f"of those layers and of the layers feeding only them are rounding noise, which differs between "
            f"machines and thread counts (stats_cache.collect.cancelled_layers)")
    return written, nbytes, time.perf_counter() - t0


if __name__ == "__main__":  # as eznas.collect (its old name) this module was a command in earlier releases
    import sys

    print("python -m eznas.collection is not a command (any more): run `eznas collect` (or `python -m eznas collect`); "
          "`eznas collect --help` lists its flags", file=sys.stderr)
    sys.exit(2)
