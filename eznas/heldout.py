"""Figures on networks the search never used: the task's validation networks (read from
the store) and test sets streamed from a benchmark (build -> statistics -> scores, nothing
stored), disjoint from every task network.  Every program is shown beside #params, FLOPs,
synflow and EZNAS-A (released: mean and sum over layers; paper text) on the same networks.

A test set is named ``space:dataset:n`` (e.g. ``nb201:imagenet16-120:500``); its
statistics are collected as the store collected the task's networks of that space (data,
batch size, seed scheme), or with the space's defaults at batch 1.
"""
import contextlib
import functools
import random

import numpy as np
import torch
from joblib import Parallel, delayed
from tqdm import tqdm

from eznas.baselines import PROGRAM_BASELINES
from eznas.discovered import DISCOVERED
from eznas.batch import NetBatch, randomised
from eznas.heldout_cache import ScoreCache
from eznas.metrics import kendall
from eznas.parallel import score_items
from eznas.program import kinds_used, parse, split_factor
from stats_cache.collect import group_layers

# baselines that are programs over the stored statistics (mean / sum over layers in the name)
ATTR_BASELINES = ("params", "flops", "synflow")  # recorded per network at collection
BASELINE_NAMES = ATTR_BASELINES + tuple(PROGRAM_BASELINES)


def base_space(store_key):
    """'nb201-imagenet16-120' -> 'nb201' (space names hold no '-')."""
    return store_key.split("-", 1)[0]


def _tau(scores, acc):
    s, a = np.asarray(scores, dtype=float), np.asarray(acc, dtype=float)
    ok = np.isfinite(s)
    if ok.sum() < 3 or np.ptp(s[ok]) == 0:
        return float("nan")
    return kendall(s[ok], a[ok])


def stored_taus(store_url, space, keys, accuracy, attrs, programs, how="mean", jobs=1, **memory):
    """{"n": networks, name: Kendall tau} on stored networks ``keys`` of ``space`` for
    ``programs`` {name: program string} and every baseline (networks where a program
    fails are left out for it; a baseline missing from the networks' records is absent)."""
    # a program baseline times an attribute the networks' records lack (times_flops on a store
    # without FLOPs) is absent, as an attribute baseline is
    # a shipped discovered proxy is left out: stored networks may be those it was chosen on (the
    # built-in stores hold them); test sets, which leave those out, show it
    usable = {n: t for n, t in PROGRAM_BASELINES.items() if n not in DISCOVERED
              and (not (f := split_factor(parse(t))[1]) or all(attrs[k].get(f) is not None for k in keys))}
    names = list(programs) + list(usable)
    texts = [programs[n] for n in programs] + list(usable.values())
    acc = [accuracy[k] for k in keys]
    scores = score_items(store_url, texts, [(space, k) for k in keys], jobs, how, **memory)
    row = {"n": len(keys)}
    row.update({n: _tau(sc, acc) for n, sc in zip(names, scores)})
    for b in ATTR_BASELINES:
        vals = [attrs[k].get(b) for k in keys]
        if all(v is not None for v in vals):
            row[b] = _tau(vals, acc)
    return row


def validation_taus(task, programs, how="mean", jobs=1, **memory):
    """{space: stored_taus(...)} on the task's validation networks."""
    return {space: stored_taus(task.store_url, space, keys, task.accuracy[space], task.attrs[space], programs, how,
                               jobs, **memory)
            for space, keys in task.held_out().items()}


def shape_reliance(task, programs, how="mean"):
    """{name: mean over spaces of the Kendall tau between a program's scores on the
    validation networks' real statistics and on the same networks with every value
    replaced by Gaussian noise}.  Near 1: the ranking comes from layer shapes, not from
    the statistics' values (a size measure in disguise, e.g. a norm of BN outputs, which
    BN fixes at sqrt(C*H*W)); a program that reads values ranks otherwise.  For a
    ``times_flops`` program, that of its layer program (the factor is size by design)."""
    from stats_cache.store import StatsStore

    store = StatsStore(task.store_url, "r")
    prefixes = {n: split_factor(parse(t))[0] for n, t in programs.items()}
    kinds = sorted({k for p in prefixes.values() for k in kinds_used(p)})
    out = {n: [] for n in programs}
    for space, keys in task.held_out().items():
        real, noise = [], []
        for j, k in enumerate(keys):
            groups = store.read_network(space, k, kinds).groups
            real.append(groups)
            noise.append(randomised(groups, 7919 * j + 1))
        rb, nb = NetBatch(real), NetBatch(noise)
        for n, p in prefixes.items():
            out[n].append(_tau(rb.scores(p, how), nb.scores(p, how)))
    return {n: float(np.nanmean(v)) if np.any(np.isfinite(v)) else float("nan") for n, v in out.items()}


def parse_test(spec, what="--test"):
    """'space:dataset:n' -> (space, dataset, n); a ValueError names ``what`` gave it."""
    parts = str(spec).split(":")
    if len(parts) != 3 or not parts[2].isdigit() or int(parts[2]) < 3:
        raise ValueError(f"{what} {spec!r}: expected SPACE:DATASET:N with N >= 3, e.g. nb201:imagenet16-120:500")
    return parts[0], parts[1], int(parts[2])


def pick_test_indices(gt, n, exclude, seed):
    """``n`` indices of ``gt`` whose architectures are not in ``exclude``, fixed by ``seed``."""
    pool = [i for i, a in enumerate(gt.archs) if str(a) not in exclude]
    if len(pool) < n:
        raise ValueError(f"{gt.space}/{gt.dataset}: only {len(pool)} networks outside the task set, {n} asked")
    return sorted(random.Random(f"test-{seed}-{gt.space}-{gt.dataset}").sample(pool, n))


def _stream_rows(programs, gt, data_cfg, how, items):
    from eznas.collection import measure_network
    from eznas.parallel import exit_with_parent

    exit_with_parent()
    from eznas.spaces.sources import input_shape
    from eznas.inputs import load_batch

    torch.set_num_threads(1)
    x = load_batch(data_cfg["data"], data_cfg["batch_size"], input_shape(gt.space, gt.dataset)[1], data_cfg["seed"])
    prefixes = {n: parse(t) for n, t in programs.items()}
    kinds = {k for p in prefixes.values() for k in kinds_used(p)}
    rows = []
    for i in items:
        stats, size_attrs = measure_network(gt, i, x, data_cfg["seed"], data_cfg.get("pattern", "rcb"), kinds=kinds,
                                            max_channels=data_cfg.get("max_channels"))
        groups = [(idx, {k: _as_stored(v, data_cfg) for k, v in env.items()}) for idx, env in group_layers(stats)]
        batch = NetBatch([groups], [size_attrs])
        rows.append({"index": i, "accuracy": float(gt.accuracy[i]), **size_attrs,
                     **{n: float(batch.scores(p, how)[0]) for n, p in prefixes.items()}})
    return rows


def _as_stored(t, data_cfg):
    """A tensor as the store would give it back (float16 or mantissa-rounded storage)."""
    from stats_cache.store import round_mantissa

    if data_cfg.get("dtype") == "float16":
        return t.half().float()
    if data_cfg.get("keep_bits") is not None:
        return round_mantissa(t, int(data_cfg["keep_bits"]))
    return t


def stream_test(gt, indices, programs, data_cfg, how="mean", jobs=1, chunk=20, cache=None, progress=False, desc="test"):
    """Rows {index, accuracy, params, flops, synflow, <program names>, <EZNAS-A forms>} for
    networks ``indices`` of ``gt``, statistics collected on the fly as ``data_cfg``
    (data, batch_size, seed, pattern) says.  ``cache``: a folder of scores kept from earlier
    calls (``eznas.heldout_cache``); only networks and programs not held there are scored,
    and what is scored is added to it."""
    progs = {**programs, **PROGRAM_BASELINES}
    texts = list(dict.fromkeys(progs.values()))
    store = ScoreCache(cache, gt, data_cfg, how) if cache else None
    held = {t: store.program(t) for t in texts} if store else {t: {} for t in texts}
    size = store.size() if store else {}
    groups = {}  # the programs a network still needs -> its indices (a network without size rows: all)
    for i in indices:
        need = tuple(t for t in texts if i not in held[t]) if i in size else tuple(texts)
        if need:
            groups.setdefault(need, []).append(i)
    todo = sum(len(v) for v in groups.values())
    with contextlib.ExitStack() as stack, tqdm(total=todo, desc=desc, unit="net", disable=not progress or not todo) as bar:
        write = store.writers(stack, texts) if store and todo else {}
        for need, idx in groups.items():
            work = functools.partial(_stream_rows, {t: t for t in need}, gt, data_cfg, how)
            chunks = [idx[k:k + chunk] for k in range(0, len(idx), chunk)]
            parts = (map(work, chunks) if jobs == 1 else
                     Parallel(n_jobs=jobs, return_as="generator")(delayed(work)(c) for c in chunks))
            for rows in parts:
                for r in rows:
                    i, arch = r["index"], str(gt.archs[r["index"]])
                    size[i] = {c: r[c] for c in ATTR_BASELINES}
                    if "size" in write:
                        write["size"]({"index": i, "arch": arch, **{c: repr(float(r[c])) for c in ATTR_BASELINES}})
                    for t in need:
                        held[t][i] = r[t]
                        if t in write:
                            write[t]({"index": i, "arch": arch, "value": repr(float(r[t]))})
                bar.update(len(rows))
    return [{"index": i, "accuracy": float(gt.accuracy[i]), **size[i], **{n: held[t][i] for n, t in progs.items()}}
            for i in indices]


def taus_of_rows(rows, names):
    acc = [r["accuracy"] for r in rows]
    return {"n": len(rows), **{n: _tau([r[n] for r in rows], acc) for n in names}}


def table(results, program_names):
    """Markdown table: one row per validation space / test set, programs then baselines."""
    cols = list(program_names) + list(BASELINE_NAMES)
    lines = ["| networks (never used by selection; test sets: by no part of the search) | n | " + " | ".join(cols) + " |",
             "|---|---|" + "---|" * len(cols)]
    for label, row in results.items():
        cells = [f"{row[c]:.3f}" if c in row and np.isfinite(row[c]) else "-" for c in cols]
        lines.append(f"| {label} | {row['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


SIZE_BASELINES = ("params", "flops")


def verdict(results, program="program_0"):
    """One line that says whether ``program`` is worth using: on how many held-out rows
    (test sets; validation rows when no test set ran) it beats both #params and FLOPs, and
    where another baseline of the table beats it (the largest gaps first)."""
    rows = {k: v for k, v in results.items() if k.endswith(" test")}
    where = "test"
    if not rows:
        rows, where = {k: v for k, v in results.items() if k.endswith(" validation")}, "validation"
    rows = {k: v for k, v in rows.items() if np.isfinite(v.get(program, np.nan))}
    if not rows:
        return f"verdict: {program} has no finite held-out tau to judge"
    beats = [k for k, v in rows.items() if all(v[program] > v.get(b, -np.inf) or not np.isfinite(v.get(b, np.nan))
                                               for b in SIZE_BASELINES)]
    losses = []
    for k, v in rows.items():
        others = {b: v[b] for b in BASELINE_NAMES if b not in SIZE_BASELINES and np.isfinite(v.get(b, np.nan))}
        if others:
            best = max(others, key=others.get)
            if others[best] > v[program]:
                losses.append((others[best] - v[program], k, best, others[best], v[program]))
    line = f"verdict: {program} beats params and flops on {len(beats)} of {len(rows)} held-out {where} rows"
    size_losses = [k for k in rows if k not in beats]
    if size_losses:
        line += " (not on " + ", ".join(k.removesuffix(f" {where}") for k in size_losses) + ")"
    if losses:
        losses.sort(reverse=True)
        shown = "; ".join(f"{k.removesuffix(f' {where}')} {b} {t:.3f} vs {p:.3f}" for _, k, b, t, p in losses[:3])
        more = f" and {len(losses) - 3} more" if len(losses) > 3 else ""
        line += f"; loses to another baseline on {len(losses)}: {shown}{more}"
    else:
        line += "; no other baseline of the table beats it on any of them"
    return line
