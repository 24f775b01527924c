"""Collect statistics of sampled networks of a space into a zarr store.

    eznas collect --space nb201 --dataset cifar10 --n 80 --store runs/stats.zarr

NB201's accuracies ship with the package (--ground-truth reads another copy).  Networks
already complete in the store are skipped, so an interrupted run resumes.  One collection
per store at a time (a second one is refused).  --verify first reads every stored network
of the space against its checksums and metadata digest and recollects the damaged ones,
and those written before digests, whose metadata cannot be checked.
"""
import logging

from eznas.cli import add_space_arguments, nonnegative_int, positive_int, space_setup

HELP = "collect statistics of sampled networks into a store"
log = logging.getLogger("eznas.collect")


def add_arguments(p):
    add_space_arguments(p)
    p.add_argument("--n", type=positive_int, default=80, help="networks to sample")
    p.add_argument("--store", required=True, help="store path or fsspec URL")
    p.add_argument("--batch-size", type=positive_int, default=1, help="inputs per batch (the paper: 1)")
    p.add_argument("--dtype", default="float32", choices=["float16", "float32"],
                   help="float32 keeps the statistics that exported programs see when scoring; "
                        "float16 halves the disk but changes precision-sensitive programs' scores")
    p.add_argument("--keep-bits", type=int, default=None,
                   help="float32 with each mantissa rounded to this many bits (1..23; 7 = bfloat16's precision): "
                        "lossy, smaller on disk, float32's range (no float16 underflow)")
    p.add_argument("--pattern", default=None, choices=["rcb", "cbr"],
                   help="layer pattern: ReLU-Conv-BN or Conv-BN-ReLU (default: the one the space is built of)")
    p.add_argument("--max-channels", type=nonnegative_int, default=None,
                   help="record each layer's first N channels (0: all; default: the space's, e.g. 64 for TransNAS-Bench-101)")
    p.add_argument("--verify", action="store_true", help="check the stored networks first and recollect damaged ones")


def run(a):
    from eznas.collection import collect_space, collection_config, sample_indices, store_key
    from eznas.spaces.sources import space_max_channels, space_pattern
    from stats_cache.store import StatsStore

    gt, device, data = space_setup(a, a.batch_size)  # before the store is touched
    pattern = a.pattern or space_pattern(gt.space)
    cap = a.max_channels if a.max_channels is not None else space_max_channels(gt.space)
    cfg = collection_config(data, a.batch_size, a.seed, a.dtype, pattern, "sum", a.keep_bits, cap)
    key = store_key(gt.space, gt.dataset)
    idx = sample_indices(len(gt), a.n, a.seed)
    with StatsStore(a.store, "a", config=cfg) as store:
        if a.verify:
            bad = store.verify(key, progress=not a.quiet)
            for k, why in sorted(bad.items()):
                log.warning("%s/%s/%s: %s; recollecting it", a.store, key, k, why)
                store.drop(key, k)
            idx = sorted(set(idx) | {int(k[1:]) for k in bad})
            log.info("verify: %d damaged networks in %s/%s", len(bad), a.store, key)
        n, nbytes, secs = collect_space(gt, store, idx, a.seed, device, progress=not a.quiet)
        total = len(store.networks(key))
        log.info(f"{key}: wrote {n} networks in {secs:.1f} s ({n / max(secs, 1e-9):.2f} net/s); "
                 f"{total} complete in {a.store}; {store.bytes_on_disk() / 1e6:.1f} MB on disk "
                 f"({nbytes / 1e6:.1f} MB uncompressed this run)")
