"""After the loop: the hall of fame ranked on validation networks, semantic duplicates
dropped, export, held-out table (programs beside #params, FLOPs, synflow and EZNAS-A on
validation networks and on test sets outside the task), plot, summary."""
import os

import numpy as np

from eznas import heldout
from eznas.evolve.builtin import seen_archs
from eznas.export import export_file
from eznas.fitness import fitness_from_scores
from eznas.parallel import score_items
from eznas.simplify import simplify

N_TABLE = 3  # programs shown in the held-out table


def _distinct(scores, bounds):
    """Indices of the rows of ``scores`` (programs x task networks, spaces in the column
    ranges ``bounds``) that do not rank every space's networks exactly as an earlier row
    does (ties and non-finite scores included): the others are the same proxy, however
    their texts or values differ (a program times a constant, a subtree that only shapes
    read), and count once."""
    from scipy.stats import rankdata

    kept, seen = [], set()
    for i, sc in enumerate(np.asarray(scores, dtype=float)):
        key = tuple(tuple(rankdata(np.where(np.isfinite(sc[a:b]), sc[a:b], -np.inf), method="dense").tolist()) +
                    tuple(np.isfinite(sc[a:b]).tolist()) for a, b in bounds)
        if key not in seen:
            seen.add(key)
            kept.append(i)
    return kept


def _simplified(texts, task, cfg):
    """Each program with its dead subtrees simplified (eznas.simplify), kept only where it
    scores exactly as the original on every search and validation network."""
    simple = [simplify(t, task.shape_sets()) for t in texts]
    changed = [k for k, (a, b) in enumerate(zip(texts, simple)) if a != b]
    if not changed:
        return texts
    items = [(s, k) for part in (task.full(), task.held_out()) for s, ks in part.items() for k in ks]
    both = score_items(task.store_url, [texts[k] for k in changed] + [simple[k] for k in changed], items, cfg.jobs,
                       cfg.to_scalar, **cfg.memory())
    out = list(texts)
    for j, k in enumerate(changed):
        if np.allclose(both[j], both[len(changed) + j], rtol=1e-12, atol=0, equal_nan=True):
            out[k] = simple[k]
    return out


def finish(cfg, task, run, pop, hof, n_export=5, log=print, progress=False):
    cands = []
    for ind in sorted(pop, key=lambda i: -i.fitness.values[0]) + list(hof):
        if cfg.program(str(ind)) not in cands:
            cands.append(cfg.program(str(ind)))
    cands = list(dict.fromkeys(_simplified(cands, task, cfg)))
    # every task network scored once: search and validation fitness, the task fitness, duplicates
    search, held = task.full(), task.held_out()
    both = {s: list(search[s]) + list(held[s]) for s in task.spaces}
    scores = score_items(task.store_url, cands, [(s, k) for s, ks in both.items() for k in ks], cfg.jobs,
                         cfg.to_scalar, **cfg.memory())
    cols, start, bounds = {"search": [], "held": []}, 0, []  # bounds: each space's columns of ``scores``
    for s in task.spaces:
        cols["search"] += range(start, start + len(search[s]))
        cols["held"] += range(start + len(search[s]), start + len(both[s]))
        bounds.append((start, start + len(both[s])))
        start += len(both[s])
    s_fits, s_taus = fitness_from_scores(scores[:, cols["search"]], search, task.accuracy)
    v_scores = scores[:, cols["held"]]
    v_fits, v_taus = fitness_from_scores(v_scores, held, task.accuracy)
    t_fits, t_taus = fitness_from_scores(scores, both, task.accuracy)
    rows = []
    for text, sf, st, vf, vt, tf, tt, sc in zip(cands, s_fits, s_taus, v_fits, v_taus, t_fits, t_taus, scores):
        if sf is None or vf is None:
            continue
        rows.append({"program": text, "validation_min_tau": vf, "validation_taus": vt, "search_min_tau": sf,
                     "search_taus": st, "task_min_tau": tf, "task_mean_tau": float(np.mean(list(tt.values()))),
                     "mean_tau": float(np.mean(list(st.values()))), "_scores": sc})
    if cfg.rank_on == "task":
        # every task network (about 3x the validation networks: a less noisy ranking); the
        # minimum over spaces plus the mean over spaces, so that among programs whose minima
        # differ by less than their noise the one good on every space comes first
        rows.sort(key=lambda r: (-(r["task_min_tau"] + r["task_mean_tau"]), -r["validation_min_tau"]))
    else:  # ranked on networks selection never saw; ties broken by the search fitness
        rows.sort(key=lambda r: (-r["validation_min_tau"], -r["search_min_tau"]))
    rows = [rows[i] for i in _distinct([r.pop("_scores") for r in rows], bounds)]
    for k, r in enumerate(rows):
        r["sign"] = 1.0 if r["mean_tau"] >= 0 else -1.0
        r["function"] = f"program_{k}" if k < n_export else None
        r["min_tau"] = r["validation_min_tau"]
        r["taus"] = r["validation_taus"]
    if rows:
        export_file(run.file("programs.py"), rows[:n_export], cfg.to_scalar)
    run.write_json("hall_of_fame.json", {"programs": rows, "held_out": "pending (test sets running)"})
    shown = {f"program_{k}": r["program"] for k, r in enumerate(rows[:N_TABLE])}
    results = {f"{s} validation": v for s, v in
               heldout.validation_taus(task, shown, cfg.to_scalar, cfg.jobs, **cfg.memory()).items()}
    tests = run_tests(cfg, task, shown, log, progress)
    results.update(tests)
    rel = heldout.shape_reliance(task, {**shown, **heldout.PROGRAM_BASELINES}, cfg.to_scalar)
    results["shape reliance: tau of scores on real vs random values (validation; 1 = ranks by shapes)"] = {
        "n": sum(len(v) for v in task.held_out().values()), **rel}
    summary = {"task_networks": {s: {"search": len(task.nets[s]), "validation": len(task.validation[s])} for s in task.spaces},
               "ranking": ("min + mean over spaces of tau on every task network (search and validation)" if cfg.rank_on == "task"
                    else "validation min tau (networks never used by selection); ties by search fitness"),
               "held_out": results, "programs": rows}
    summary["verdict"] = heldout.verdict(results) if shown else "verdict: no program to judge"
    run.write_json("hall_of_fame.json", summary)
    md = heldout.table(results, list(shown)) + "\n\n" + summary["verdict"]  # the verdict is the last line
    with open(run.file("heldout.md"), "w") as f:
        f.write(md + "\n")
    plot(run, results)
    return rows, md


def plan_tests(cfg, task):
    """[(spec, ground truth, indices, data config)] for ``cfg.tests``, checked before any
    evolution (a test set that cannot be built is an error naming it, not a lost run)."""
    from eznas.spaces.sources import default_data, load_ground_truth, space_pattern, space_max_channels
    from stats_cache.store import StatsStore

    store = StatsStore(task.store_url, "r")
    archs = task.all_archs()
    plans = []
    for spec in cfg.tests:
        space, dataset, n = heldout.parse_test(spec)
        try:
            gt = load_ground_truth(space, dataset)
        except (ValueError, OSError) as e:
            raise ValueError(f"--test {spec}: {e}") from None
        same = [s for s in task.spaces if heldout.base_space(s) == space]
        exclude = set().union(*(archs[s] for s in same)) if same else set()
        exclude |= seen_archs(space)  # and every network a shipped proxy (a table column) was chosen on
        # collected as the store collected the task's networks of that space (the same dataset's first)
        source = next((s for s in same if s == f"{space}-{dataset}"), same[0] if same else None)
        data_cfg = dict(store.space_config(source)) if source else {}
        if not data_cfg.get("data"):
            data_cfg = {"data": default_data(space), "batch_size": 1, "pattern": space_pattern(space),
                        "max_channels": space_max_channels(space)}
        data_cfg.setdefault("seed", cfg.seed)
        try:
            idx = heldout.pick_test_indices(gt, n, exclude, cfg.seed)
        except ValueError as e:
            raise ValueError(f"--test {spec}: {e}") from None
        plans.append((spec, gt, idx, data_cfg, len(exclude)))
    return plans


def test_cache(cfg):
    """Where a run's streamed test scores are kept: ``test-scores/`` beside its run
    directory (shared by every run under the same root, so a rerun scores only what is new)."""
    return os.path.join(os.path.dirname(os.path.abspath(cfg.run_dir)), "test-scores") if cfg.run_dir else None


def run_tests(cfg, task, programs, log=print, progress=False):
    """Held-out test sets named in ``cfg.tests`` ('space:dataset:n'), disjoint from every
    task network of that space; streamed, scores kept in ``test_cache(cfg)``."""
    out = {}
    if not programs:
        return out
    cache = test_cache(cfg)
    for spec, gt, idx, data_cfg, n_excl in plan_tests(cfg, task):
        log(f"test set {spec}: {len(idx)} networks outside the task's {n_excl} (statistics streamed; scores kept in "
            f"{cache})")
        rows = heldout.stream_test(gt, idx, programs, data_cfg, cfg.to_scalar, cfg.jobs, cache=cache,
                                   progress=progress, desc=f"test {spec}")
        out[f"{gt.space}/{gt.dataset} test"] = heldout.taus_of_rows(rows, list(programs) + list(heldout.BASELINE_NAMES))
    return out


def plot(run, results=None):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import csv

        import matplotlib.pyplot as plt
    except ImportError:
        return None
    with open(run.file("log.csv")) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return None
    g = [int(r["gen"]) for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.plot(g, [float(r["best"]) for r in rows], marker="o", label="best fitness (search networks, min tau over spaces)")
    ax.plot(g, [float(r["median"]) for r in rows], marker=".", label="median fitness (search networks)")
    val = [(x, float(r["best_validation"])) for x, r in zip(g, rows) if r.get("best_validation") not in (None, "")]
    if val:
        ax.plot(*zip(*val), marker="s", label="that best program on validation networks (min tau)")
    if results:
        vals = [v for k, v in results.items() if k.endswith("validation")]
        for name, style in (("params", ":"), ("eznas_a", "--")):
            taus = [v.get(name, np.nan) for v in vals]
            if taus and np.all(np.isfinite(taus)):
                ax.axhline(min(taus), ls=style, color="gray", label=f"{name} on validation networks (min tau)")
    ax.set_xlabel("generation")
    ax.set_ylabel("Kendall tau")
    ax.set_title("fitness per generation; validation never used by selection", fontsize=9)
    ax.legend(fontsize=6.5, loc="lower right")
    fig.tight_layout()
    path = run.file("fitness.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
