"""Architecture search on a table benchmark with a zero-cost proxy: random search, aging
evolution (Real et al. 2019) and aging evolution with the proxy's warm-up and move
proposal (Abdelfattah et al. 2021), every variant on the same seeds.

    eznas nas                                        # NB201 CIFAR-10, EZNAS-A, 20 seeds
    eznas nas --proxy params --proxy runs/<run> --target 94.0
    eznas nas --space bench_sss --proxy "layer_sum(frobenius_norm(T4_N))"

"Training" a network is a look-up of its accuracy in the table and counts as one query
(a network already trained costs nothing).  Warm-up: the proxy scores --pool random
networks and the population starts from its best; move proposal: each step the proxy
scores --children mutants of the parent and only the best is trained.  --proxy is a
baseline name, a program string, FILE.py[:FUNCTION] (imported: trusted files only) or a
run directory (RUN: its program_0, or RUN:program_k); repeat it to compare proxies.

Proxy scores are computed once per (proxy, space, dataset, table, data, batch size, seed,
device type) and kept under --cache, so reruns and more seeds cost table look-ups only; the table says how
many proxy evaluations each search spent and what they cost on this machine.  Writes
<out>/best_so_far.csv (best accuracy per query per seed), <out>/nas.md (the table at
25 / 50 / 100 / 200 queries) and <out>/best_so_far.png (mean and spread, log scale); while
one search writes <out> (it holds <out>.lock), a second one on it is refused.
"""
import logging
import os

from eznas.cli import add_space_arguments, output_path, positive_int

HELP = "architecture search on a table benchmark, with and without a proxy"
log = logging.getLogger("eznas.nas")


def add_arguments(p):
    from eznas.nas.experiment import DEFAULT_VARIANTS, VARIANTS, Settings

    add_space_arguments(p, space="nb201", seed_help="the proxy's seed: its data batch and the networks' weights "
                                                    "(the searches' seeds are --first-seed ...)")
    p.add_argument("--proxy", action="append", metavar="PROXY",
                   help="proxy of the warm-up / move variants (repeatable; default: eznas_a)")
    p.add_argument("--variants", nargs="+", default=list(DEFAULT_VARIANTS), choices=list(VARIANTS), metavar="VARIANT",
                   help=f"searches to run, of {', '.join(VARIANTS)}")
    d = Settings()
    p.add_argument("--queries", type=positive_int, default=d.queries, help="networks trained per search")
    p.add_argument("--seeds", type=positive_int, default=d.seeds, help="searches per variant")
    p.add_argument("--first-seed", type=int, default=d.first_seed, help="seed of the first search")
    p.add_argument("--population", type=positive_int, default=d.population, help="aging evolution: population size")
    p.add_argument("--sample", type=positive_int, default=d.sample, help="aging evolution: members drawn to pick a parent")
    p.add_argument("--pool", type=positive_int, default=d.pool, help="warm-up: random networks the proxy scores")
    p.add_argument("--children", type=positive_int, default=d.children, help="move proposal: mutants scored per step")
    p.add_argument("--target", type=float, default=None, help="accuracy whose query count the table reports")
    p.add_argument("--batch-size", type=positive_int, default=None, help="proxy batch size (default: 1, as EZNAS)")
    p.add_argument("--jobs", type=positive_int, default=2, help="processes scoring large batches of networks (CPU)")
    p.add_argument("--cache", default="runs/proxy-scores", help="folder of cached proxy scores")
    p.add_argument("--out", default=None, help="folder written (default: runs/nas-SPACE-DATASET)")


def run(a):
    from eznas.collection import resolve_device
    from eznas.nas.experiment import Settings, run_nas
    from eznas.spaces.registry import get

    s = Settings(a.queries, a.seeds, a.first_seed, a.population, a.sample, a.pool, a.children)
    proxies = a.proxy or ["eznas_a"]
    out = a.out or os.path.join("runs", f"nas-{a.space}-{a.dataset or get(a.space).datasets[0]}")
    output_path(out, "--out", folder=True)  # written at the end: a folder that cannot be made fails now
    output_path(a.cache, "--cache", folder=True)
    from eznas.score import hold_output

    lock = hold_output(out)  # one search writes a folder: a second one is refused
    try:
        result = run_nas(a.space, a.dataset, proxies, a.variants, s, a.ground_truth, a.data, a.cache, a.batch_size,
                         a.seed, a.jobs, resolve_device(a.device))
        paths = result.write(out, a.target)
    finally:
        lock.release()
    print(result.about + "\n\n" + result.table(a.target))
    print("\nwritten: " + ", ".join(paths))
