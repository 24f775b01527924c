"""Scoring the networks of a space with a proxy against ground truth (``eznas score`` is its
command line): a proxy is a baseline name, a program string or an exported programs file;
networks are streamed (build -> statistics -> score, nothing stored); rows are appended to
a CSV as they come, beside a record of the settings they were made with, so a run that
stops resumes where it was and a resume with other settings is refused."""
import functools
import importlib.util
import logging
import os
import re
import time

import numpy as np
import torch

from eznas import metrics
from eznas.baselines import BASELINES, PROGRAM_BASELINES
from eznas.rowlog import append_rows, done_archs, read_rows
from eznas.spaces.benchmarks import NUM_CLASSES
from eznas.spaces.complexity import count_flops, count_params
from eznas.spaces.sources import input_shape, space_max_channels, space_pattern
from eznas.inputs import load_batch

log = logging.getLogger("eznas.score")

COLUMNS = ["arch", "score", "accuracy", "flops", "params", "seconds"]  # seconds: build + proxy, one network


def proxy_file(proxy):
    """(path, function name) when ``proxy`` names an exported programs file, ``FILE.py``
    or ``FILE.py:FUNCTION`` (default program_0); else None."""
    path, _, fname = proxy.partition(".py:")
    if not (proxy.endswith(".py") or fname):
        return None
    return (path if path.endswith(".py") else path + ".py"), fname or "program_0"


def run_program(proxy):
    """The program a run directory names, ``RUN_DIR`` (its program_0) or ``RUN_DIR:NAME``
    (e.g. ``runs/x:program_2``), read from its hall_of_fame.json; None when ``proxy`` is
    not a run directory."""
    path, _, name = proxy.rpartition(":") if ":" in proxy and not os.path.isdir(proxy) else (proxy, "", "")
    if not os.path.isfile(os.path.join(path, "hall_of_fame.json")):
        return None
    from eznas.proxies import load_programs

    programs = {p.label: p for p in load_programs(path)}
    name = name or "program_0"
    if name not in programs:
        raise ValueError(f"--proxy {proxy}: the run has no {name} (it has {', '.join(programs)})")
    return programs[name]


def proxy_text(proxy, prog=None):
    """The program string a proxy computes when it is one (a program string, or a run's
    program whose sign and layer-to-scalar rule are the defaults), else ``proxy`` itself:
    the same computation, named two ways, shares one cache of scores.  ``prog``: the run's
    program when the caller has read it already."""
    prog = prog or run_program(proxy)
    if prog is not None and prog.sign == 1.0 and prog.to_scalar == "mean":
        return prog.text
    return proxy


def make_scorer(proxy, pattern="rcb", max_channels=None):
    """A function (model, x, y) -> float for a baseline name, program string, exported
    programs file or a run directory's program; programs read the ``pattern`` layers
    ("rcb" or "cbr": the block the space's networks are built of), each layer's first
    ``max_channels`` channels when given (as the space's stores record them)."""
    layers = {"pattern": pattern, "max_channels": max_channels}
    if proxy in PROGRAM_BASELINES:  # the EZNAS-A forms: programs, which read layers as the space says
        return functools.partial(BASELINES[proxy], **layers)
    if proxy in BASELINES:
        return BASELINES[proxy]
    if (prog := run_program(proxy)) is not None:
        return functools.partial(_measured_score, prog, **layers)
    if file := proxy_file(proxy):
        path, fname = file
        if not os.path.exists(path):
            raise ValueError(f"--proxy file not found: {path}")
        # importing runs the file's code: trusted files only (program strings are the safe way)
        spec = importlib.util.spec_from_file_location("eznas_exported_programs", path)
        mod = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(mod)
        except Exception as e:  # any error of the user's file, reported with its name
            raise ValueError(f"--proxy {path}: importing it raised {type(e).__name__}: {e}") from None
        fn = getattr(mod, fname, None)
        if fn is None:
            raise ValueError(f"--proxy {proxy}: no function {fname} (not an exported programs file)")
        return functools.partial(_measured_score, fn, **layers)
    from eznas.program import ProgramError, parse, shown

    try:
        parse(proxy)
    except ProgramError as e:
        raise ValueError(f"--proxy {shown(proxy)} is neither a baseline ({', '.join(BASELINES)}), a .py file, a "
                         f"run directory, nor a program: {e.reason}") from None
    return lambda model, x, y=None: BASELINES["eznas_a"](model, x, y, program=proxy, **layers)


def _measured_score(proxy, model, x, y=None, pattern="rcb", max_channels=None):
    """The score ``eznas.measures`` gives ``model`` with an exported function or a loaded
    program; NaN for a network without layers (as the engine scores it)."""
    from eznas.proxies import measures
    from stats_cache.layers import NoLayersError

    try:
        return next(iter(measures(model, x, [proxy], pattern=pattern, max_channels=max_channels).values()))
    except NoLayersError:
        return float("nan")


def labels_for(source, n, num_classes, seed):
    """Labels from CIFAR-style file names (name_<i>_<label>.png), else seeded random ones."""
    if source.startswith("folder:"):
        files = sorted(f for f in os.listdir(source[7:]) if f.lower().endswith((".png", ".jpg", ".jpeg")))[:n]
        got = [re.search(r"_(\d+)\.\w+$", f) for f in files]
        if all(got):
            return torch.tensor([int(m.group(1)) % num_classes for m in got])
    return torch.randint(num_classes, (n,), generator=torch.Generator().manual_seed(seed))


CHUNK = 25  # networks per unit of work when scoring with several processes


_UNCHECKED = set()  # run configs already warned about (once each)


def task_archs(path, space):
    """Architectures of ``space`` held in a statistics store, or in the store a run
    directory (its config.json) searched on: the networks a program has already seen.  A
    run's store must be the one it recorded (``StatsStore.identity``): another store found
    at its path is refused (ValueError naming both and what differs); a run started before
    identities were recorded is read unchecked, with a warning."""
    from eznas.evolve.rundir import read_json
    from eznas.heldout import base_space
    from stats_cache.store import StatsStore, absolute_url, other_store

    cfg_path = os.path.join(path, "config.json")
    recorded = None
    if os.path.isfile(cfg_path):
        cfg = read_json(cfg_path, "run config")
        path = cfg.get("store") or path
        recorded = cfg.get("store_identity") or {}
        spaces = recorded.get("spaces") if isinstance(recorded, dict) else None
        if not isinstance(recorded, dict) or not isinstance(path, str) or (
                recorded and not (isinstance(spaces, list) and all(isinstance(x, str) for x in spaces))):
            raise ValueError(f"{cfg_path}: corrupt run config (field 'store' must be a path and 'store_identity' "
                             "an object with a list of space names)")
    store = StatsStore(path, "r")
    want = [s for s in store.spaces() if base_space(s) == space]
    attrs = {s: store.network_attrs(s) for s in set(want) | set((recorded or {}).get("spaces", []))}
    if recorded:
        why = other_store(recorded, store.identity(recorded["spaces"], attrs))
        if why:
            raise ValueError(f"{cfg_path}: {why}; the networks the run saw are not there to leave out")
    elif recorded is not None and cfg_path not in _UNCHECKED:
        _UNCHECKED.add(cfg_path)
        log.warning(
            f"{cfg_path}: the run was started before runs recorded their store's identity; its store {path} (read as "
            f"{absolute_url(path)}) is not checked to be the one it searched")
    return {str(a.get("arch")) for s in want for a in attrs[s].values()}


def hold_output(out, flag="--out"):
    """Lock the output file ``out`` (and the files written beside it) for this process
    (``stats_cache.locks``); ValueError naming it and the holder when another process
    writes it.  Returns the lock: release it."""
    from stats_cache.locks import hold

    return hold(out, "another process is writing this output", subject=f"{flag} {out}")


def run_of(proxy):
    """The run directory an exported programs file belongs to, if any."""
    file = proxy_file(proxy)
    if file is None:
        return None
    d = os.path.dirname(os.path.abspath(file[0]))
    return d if os.path.isfile(os.path.join(d, "config.json")) else None


class Scoring:
    """What scoring networks of ``gt`` needs, made once: the scorer, the batch and its labels."""

    def __init__(self, proxy, gt, data, batch_size, seed, device):
        self.scorer = make_scorer(proxy, space_pattern(gt.space), space_max_channels(gt.space))
        self.gt, self.seed, self.device = gt, seed, device
        self.c, self.size = input_shape(gt.space, gt.dataset)
        self.x = load_batch(data, batch_size, self.size, seed).to(device)
        self.y = labels_for(data, batch_size, NUM_CLASSES.get(gt.dataset, 10), seed).to(device)

    def rows(self, items):
        """Rows for the indices ``items``: build -> score -> FLOPs / params, one network at
        a time; ``seconds`` is the build and the proxy."""
        gt = self.gt
        for i in items:
            t = time.perf_counter()
            torch.manual_seed(self.seed * 1_000_003 + i)
            model = gt.build(gt.archs[i]).to(self.device)
            s = float(self.scorer(model, self.x, self.y))
            seconds = time.perf_counter() - t
            yield {"arch": gt.archs[i], "score": repr(s), "accuracy": float(gt.accuracy[i]),
                   "flops": count_flops(model.cpu(), (1, self.c, self.size, self.size)), "params": count_params(model),
                   "seconds": f"{seconds:.4f}"}


def _score_rows(proxy, gt, data, batch_size, seed, device, items):
    """Rows for the indices ``items`` (a picklable unit of work for append_rows)."""
    yield from Scoring(proxy, gt, data, batch_size, seed, device).rows(items)


def settings_path(out):
    return os.path.splitext(out)[0] + ".settings.json"


def proxy_identity(proxy):
    """What a proxy is, for the settings record: its text, and for a file its content hash
    (a file edited between runs is another proxy)."""
    import hashlib

    prog = run_program(proxy)
    if prog is not None:  # what it computes: a plain program string when it is one
        text = proxy_text(proxy, prog)
        return {"proxy": text} if text != proxy else {"proxy": proxy, "program": prog.text, "sign": prog.sign,
                                                     "to_scalar": prog.to_scalar}
    file = proxy_file(proxy)
    if file and os.path.isfile(file[0]):
        with open(file[0], "rb") as f:
            return {"proxy": proxy, "proxy_sha256": hashlib.sha256(f.read()).hexdigest()[:16]}
    from eznas.discovered import DISCOVERED

    if proxy in DISCOVERED:  # a shipped name: what it computes, should a release change it
        return {"proxy": proxy, "program": DISCOVERED[proxy]["program"]}
    return {"proxy": proxy}


def check_settings(out, settings, what="--out"):
    """Write ``settings`` beside the CSV ``out``, or check that an existing CSV was made
    with the same ones (ValueError naming the differences; nothing is changed); ``what``
    names the file in messages."""
    import json

    from eznas.evolve.rundir import atomic_write, read_json

    sp = settings_path(out)
    has_rows = os.path.exists(out) and os.path.getsize(out) > 0
    if os.path.exists(sp):
        old = read_json(sp, "settings record")
        if has_rows and old != settings:
            diff = {k: (old.get(k), settings.get(k)) for k in sorted(set(old) | set(settings)) if old.get(k) != settings.get(k)}
            raise ValueError(f"{what} {out} holds scores made with other settings "
                             f"({'; '.join(f'{k}: {a!r} there, {b!r} now' for k, (a, b) in diff.items())}); "
                             f"write to another {what.split()[0]} (nothing was changed)")
    elif has_rows:
        raise ValueError(f"{what} {out} holds scores but no record of their settings ({sp}); "
                         f"write to another {what.split()[0]}")
    atomic_write(sp, json.dumps(settings, indent=2, sort_keys=True))


def score_space(proxy, gt, indices, out, data, batch_size=1, seed=0, device="cpu", progress=True, jobs=1,
                settings=None, what="--out"):
    """Score networks ``indices`` of ``gt`` with ``proxy`` (a name accepted by make_scorer),
    appending rows to ``out`` as they come (networks already there are skipped); with
    ``jobs`` > 1, chunks of CHUNK networks are spread over processes (CPU only).  The
    settings recorded beside ``out`` are those given, else proxy, space, dataset, data,
    batch size and seed."""
    make_scorer(proxy)  # a bad proxy fails here, before any work
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    check_settings(out, settings or {**proxy_identity(proxy), "space": gt.space, "dataset": gt.dataset, "data": data,
                                     "batch_size": batch_size, "seed": seed, **layer_settings(gt)}, what)
    done = done_archs(out)
    todo = [i for i in indices if gt.archs[i] not in done]
    work = functools.partial(_score_rows, proxy, gt, data, batch_size, seed, device if jobs == 1 else "cpu")
    append_rows(out, COLUMNS, work, todo, jobs, CHUNK, "score", progress)


def layer_settings(gt):
    """How networks of ``gt``'s space are read where it is not the default (ReLU-Conv-BN
    blocks, every channel, 32 or 16 px), for a score file's settings: scores made another
    way are then refused, not mixed.  Empty for NB201, so its records stay as they were."""
    out = {}
    if space_pattern(gt.space) != "rcb":
        out["pattern"] = space_pattern(gt.space)
    if space_max_channels(gt.space):
        out["max_channels"] = space_max_channels(gt.space)
    size = input_shape(gt.space, gt.dataset)[1]
    if size not in (16, 32):
        out["input_size"] = size
    return out


def report(csv_path, title="", archs=None, about="", name=""):
    """Metrics of the rows of ``csv_path`` (only those of ``archs`` when given: exactly
    the networks asked for, whatever earlier runs appended), written as a markdown report
    and a scatter plot beside it; ``about`` (data, batch size, seed) goes under the title.
    ``m["verdict"]``: the proxy (``name``) against #params and FLOPs on the same rows."""
    rows = read_rows(csv_path)
    if archs is not None:
        want = {str(x) for x in archs}
        rows = [r for r in rows if r["arch"] in want]
    s, a = _column(rows, "score", csv_path), _column(rows, "accuracy", csv_path)
    ok = np.isfinite(s)
    m = metrics.summary(s[ok], a[ok])
    bias = metrics.complexity_bias(s[ok], a[ok], _column(rows, "flops", csv_path)[ok])
    lines = [f"# {title or os.path.basename(csv_path)}", "", about, "",
             f"networks: {len(rows)} ({int((~ok).sum())} non-finite scores left out)", "",
             "| metric | value |", "|---|---|"] + [f"| {k} | {'n/a' if v is None else f'{v:.4f}'} |" for k, v in m.items()]  # before the verdict
    lines += ["", "complexity bias (mean rank gain per FLOPs quintile, + = overestimated): " +
              ", ".join(f"{b:+.3f}" for b in bias)]
    m["verdict"] = size_verdict(name or "the proxy", m["kendall"],
                                {c: metrics.kendall(_column(rows, c, csv_path)[ok], a[ok])
                                 for c in ("params", "flops")}, int(ok.sum()))
    lines += ["", m["verdict"]]
    md = os.path.splitext(csv_path)[0] + ".md"
    with open(md, "w") as f:
        f.write("\n".join(lines) + "\n")
    scatter(s[ok], a[ok], os.path.splitext(csv_path)[0] + ".png", f"{title}\nKendall tau {m['kendall']:.3f}, n = {int(ok.sum())}")
    return m, md


def _column(rows, col, path):
    """Field ``col`` of every row of the score file ``path`` as numbers; a field that is not
    one (a row damaged or edited) is a ValueError naming the file, the row and the field."""
    try:
        return np.array([float(r[col]) for r in rows], dtype=np.float64)
    except ValueError:
        k = next(k for k, r in enumerate(rows) if not _is_float(r[col]))
        raise ValueError(f"{path}: the row of architecture {rows[k]['arch'][:80]!r}: field {col!r} is "
                         f"{rows[k][col][:40]!r}, not a number; remove the row (it is scored again) or write "
                         f"to another file") from None


def _is_float(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def size_verdict(name, tau, size_taus, n):
    """'verdict: NAME (tau 0.61) beats params (0.53) and flops (0.56) on these N networks',
    or which size count beats it."""
    if tau is None or not np.isfinite(tau):
        return f"verdict: {name} has no Kendall tau on these {n} networks"
    cells = " and ".join(f"{c} ({'n/a' if t is None else f'{t:.3f}'})" for c, t in size_taus.items())
    lost = [c for c, t in size_taus.items() if t is not None and np.isfinite(t) and t >= tau]
    if not lost:
        return f"verdict: {name} (tau {tau:.3f}) beats {cells} on these {n} networks"
    return (f"verdict: {name} (tau {tau:.3f}) does not beat {' or '.join(lost)} on these {n} networks "
            f"({cells}): counting size ranks them as well")


def scatter(s, a, path, title=""):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import textwrap

    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(s, a, s=6, alpha=0.6)
    if len(s) and np.all(s > 0) and s.max() / max(s.min(), 1e-300) > 1e3:
        ax.set_xscale("log")
    ax.set_xlabel("proxy score")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("\n".join(textwrap.fill(line, 60) for line in title.split("\n")), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":  # `python -m eznas.score` was a command in earlier releases; now a library module
    import sys

    print("python -m eznas.score is not a command (any more): run `eznas score` (or `python -m eznas score`); "
          "`eznas score --help` lists its flags", file=sys.stderr)
    sys.exit(2)
