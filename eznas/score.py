"""Score networks of a space with a proxy and measure it against ground truth.

    python -m eznas.score --proxy eznas_a --space nb201 --dataset cifar10 \
        --ground-truth ../shared/benchmarks/nb201/nb201_test_accuracy.csv --n 200 --out runs/score.csv

``--proxy`` is a baseline name, a program string (e.g. ``"l1_norm(T1G_D)"``) or an exported
programs file with an optional function name (``runs/<run>/programs.py:program_1``; default
program_0).  Networks are streamed (build ->
statistics -> score, nothing stored); rows are appended to the CSV as they come, so a run
that stops resumes where it was.  Writes the CSV, a markdown report and a scatter plot.
"""
import argparse
import csv
import functools
import importlib.util
import os
import re
import sys

import numpy as np
import torch

from eznas import metrics
from eznas.baselines import BASELINES, BATCH_SIZE, check_batch
from eznas.collect import resolve_device, sample_indices
from eznas.rowlog import append_rows, done_archs
from eznas.spaces.benchmarks import NUM_CLASSES
from eznas.spaces.complexity import count_flops, count_params
from eznas.spaces.sources import SPACES, default_data, input_shape, load_ground_truth
from stats_cache.data import load_batch

COLUMNS = ["arch", "score", "accuracy", "flops", "params"]


def make_scorer(proxy):
    """A function (model, x, y) -> float for a baseline name, program string or file."""
    if proxy in BASELINES:
        return BASELINES[proxy]
    path, _, fname = proxy.partition(".py:")
    if proxy.endswith(".py") or fname:
        path = path if path.endswith(".py") else path + ".py"
        if not os.path.exists(path):
            raise ValueError(f"--proxy file not found: {path}")
        spec = importlib.util.spec_from_file_location("eznas_exported_programs", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        fn = getattr(mod, fname or "program_0", None)
        if fn is None:
            raise ValueError(f"--proxy {proxy}: no function {fname or 'program_0'} (not an exported programs file)")
        from eznas.export import score_module

        return lambda model, x, y=None: score_module(model, x, fn)
    from eznas.program import ProgramError, parse

    try:
        parse(proxy)
    except ProgramError as e:
        raise ValueError(f"--proxy {proxy!r} is neither a baseline ({', '.join(BASELINES)}), a .py file, nor a program: {e}") from None
    return lambda model, x, y=None: BASELINES["eznas_a"](model, x, y, program=proxy)


def labels_for(source, n, num_classes, seed):
    """Labels from CIFAR-style file names (name_<i>_<label>.png), else seeded random ones."""
    if source.startswith("folder:"):
        files = sorted(f for f in os.listdir(source[7:]) if f.lower().endswith((".png", ".jpg", ".jpeg")))[:n]
        got = [re.search(r"_(\d+)\.\w+$", f) for f in files]
        if all(got):
            return torch.tensor([int(m.group(1)) % num_classes for m in got])
    return torch.randint(num_classes, (n,), generator=torch.Generator().manual_seed(seed))


CHUNK = 25  # networks per unit of work when scoring with several processes


def task_archs(path, space):
    """Architectures of ``space`` held in a statistics store, or in the store a run
    directory (its config.json) searched on: the networks a program has already seen."""
    import json

    from eznas.heldout import base_space
    from stats_cache.store import StatsStore

    cfg_path = os.path.join(path, "config.json")
    if os.path.isfile(cfg_path):
        with open(cfg_path) as f:
            try:
                path = json.load(f).get("store") or path
            except json.JSONDecodeError as e:
                raise ValueError(f"{cfg_path}: not a run config ({e})") from None
    store = StatsStore(path, "r")
    return {str(store.attrs(s, k).get("arch")) for s in store.spaces() if base_space(s) == space
            for k in store.networks(s)}


def run_of(proxy):
    """The run directory an exported programs file belongs to, if any."""
    path = proxy.partition(".py:")[0]
    d = os.path.dirname(os.path.abspath(path if path.endswith(".py") else path + ".py"))
    return d if os.path.isfile(os.path.join(d, "config.json")) else None


def _score_rows(proxy, gt, data, batch_size, seed, device, items):
    """Rows for the indices ``items``: build -> score -> FLOPs / params, one network at a
    time (the scorer and the batch are made once)."""
    scorer = make_scorer(proxy)
    c, size = input_shape(gt.space, gt.dataset)
    x = load_batch(data, batch_size, size, seed).to(device)
    y = labels_for(data, batch_size, NUM_CLASSES.get(gt.dataset, 10), seed).to(device)
    for i in items:
        torch.manual_seed(seed * 1_000_003 + i)
        model = gt.build(gt.archs[i]).to(device)
        s = float(scorer(model, x, y))
        yield {"arch": gt.archs[i], "score": repr(s), "accuracy": float(gt.accuracy[i]),
               "flops": count_flops(model.cpu(), (1, c, size, size)), "params": count_params(model)}


def score_space(proxy, gt, indices, out, data, batch_size=1, seed=0, device="cpu", progress=True, jobs=1):
    """Score networks ``indices`` of ``gt`` with ``proxy`` (a name accepted by make_scorer),
    appending rows to ``out`` as they come (networks already there are skipped); with
    ``jobs`` > 1, chunks of CHUNK networks are spread over processes (CPU only)."""
    make_scorer(proxy)  # a bad proxy fails here, before any work
    done = done_archs(out)
    todo = [i for i in indices if gt.archs[i] not in done]
    work = functools.partial(_score_rows, proxy, gt, data, batch_size, seed, device if jobs == 1 else "cpu")
    append_rows(out, COLUMNS, work, todo, jobs, CHUNK, "score", progress)


def report(csv_path, title=""):
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    s = np.array([float(r["score"]) for r in rows])
    a = np.array([float(r["accuracy"]) for r in rows])
    ok = np.isfinite(s)
    m = metrics.summary(s[ok], a[ok])
    bias = metrics.complexity_bias(s[ok], a[ok], np.array([float(r["flops"]) for r in rows])[ok])
    lines = [f"# {title or os.path.basename(csv_path)}", "", f"networks: {len(rows)} ({int((~ok).sum())} non-finite scores left out)", "",
             "| metric | value |", "|---|---|"] + [f"| {k} | {v:.4f} |" for k, v in m.items()]
    lines += ["", "complexity bias (mean rank gain per FLOPs quintile, + = overestimated): " +
              ", ".join(f"{b:+.3f}" for b in bias)]
    md = os.path.splitext(csv_path)[0] + ".md"
    with open(md, "w") as f:
        f.write("\n".join(lines) + "\n")
    scatter(s[ok], a[ok], os.path.splitext(csv_path)[0] + ".png", title)
    return m, md


def scatter(s, a, path, title=""):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    ax.scatter(s, a, s=6, alpha=0.6)
    if len(s) and np.all(s > 0) and s.max() / max(s.min(), 1e-300) > 1e3:
        ax.set_xscale("log")
    ax.set_xlabel("proxy score")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m eznas.score", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--proxy", required=True)
    p.add_argument("--space", required=True, choices=SPACES)
    p.add_argument("--dataset", default=None)
    p.add_argument("--ground-truth", default=None)
    p.add_argument("--n", type=int, default=None, help="networks to sample (default 1000; fewer if the space has fewer)")
    p.add_argument("--out", required=True, help="CSV of (arch, score, accuracy, flops, params)")
    p.add_argument("--data", default=None)
    p.add_argument("--batch-size", type=int, default=None,
                   help=f"inputs per batch (default: 1, as EZNAS; {', '.join(f'{k} {v}' for k, v in BATCH_SIZE.items())}, "
                        "as their papers use)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--jobs", type=int, default=1, help="processes (CPU), each scoring chunks of networks")
    p.add_argument("--exclude", action="append", metavar="STORE_OR_RUN",
                   help="leave out the networks of a statistics store, or of the store a run directory searched on "
                        "(repeatable), so the figures are on networks the search never saw")
    a = p.parse_args(argv)
    try:
        gt = load_ground_truth(a.space, a.dataset, a.ground_truth)
        make_scorer(a.proxy)
        a.batch_size = a.batch_size if a.batch_size is not None else BATCH_SIZE.get(a.proxy, 1)
        if a.batch_size < 1:
            raise ValueError(f"--batch-size must be >= 1, got {a.batch_size}")
        check_batch(a.proxy, a.batch_size)
        if a.jobs < 1:
            raise ValueError(f"--jobs must be >= 1, got {a.jobs}")
    except (ValueError, OSError) as e:
        sys.exit(f"error: {e}")
    try:
        excluded = set().union(*(task_archs(e, a.space) for e in a.exclude or []))
    except (ValueError, OSError) as e:
        sys.exit(f"error: --exclude: {e}")
    pool = [i for i, arch in enumerate(gt.archs) if str(arch) not in excluded]
    n = min(a.n if a.n is not None else 1000, len(pool))
    idx = sorted(pool[j] for j in sample_indices(len(pool), n, a.seed))
    run = run_of(a.proxy) if a.proxy.endswith(".py") or ".py:" in a.proxy else None
    if run and not a.exclude:
        try:
            seen = task_archs(run, a.space)
        except (ValueError, OSError) as e:  # the run's store moved or is elsewhere: no check, say so
            print(f"warning: could not read the task networks of {run} ({e}); overlap not checked", file=sys.stderr)
            seen = set()
        overlap = sum(str(gt.archs[i]) in seen for i in idx)
        if overlap:
            print(f"warning: {overlap} of the {n} networks scored were in the task of {run} (its search or validation "
                  f"networks); add --exclude {run} to score only networks it never saw", file=sys.stderr)
    print(f"scoring {n} networks of {a.space}/{gt.dataset} ({len(excluded)} architectures excluded), data "
          f"{a.data or default_data(a.space)}, batch size {a.batch_size}, seed {a.seed}")
    try:
        score_space(a.proxy, gt, idx, a.out, a.data or default_data(a.space),
                    a.batch_size, a.seed, resolve_device(a.device), jobs=a.jobs)
    except ValueError as e:
        sys.exit(f"error: {e}")
    m, md = report(a.out, f"{a.proxy} on {a.space}/{gt.dataset}")
    print(f"kendall {m['kendall']:.4f}  spearman {m['spearman']:.4f}  report: {md}")


if __name__ == "__main__":
    main()
