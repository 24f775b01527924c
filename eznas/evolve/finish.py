"""After the loop: full-task evaluation of the hall of fame, export, plot, summary."""
import numpy as np

from eznas.export import export_file
from eznas.fitness import evaluate


def finish(cfg, task, run, pop, hof, n_export=5):
    best_final = max(pop, key=lambda i: i.fitness.values[0])
    texts = []
    for ind in [best_final] + list(hof):
        if str(ind) not in texts:
            texts.append(str(ind))
    fits, taus = evaluate(texts, task.store_url, task.full(), task.accuracy, cfg.jobs, cfg.to_scalar, **cfg.memory())
    rows = []
    for text, f, t in zip(texts, fits, taus):
        if f is None:
            continue
        rows.append({"program": text, "min_tau": f, "taus": t, "mean_tau": float(np.mean(list(t.values())))})
    rows.sort(key=lambda r: -r["min_tau"])
    for k, r in enumerate(rows):
        r["sign"] = 1.0 if r["mean_tau"] >= 0 else -1.0
        r["function"] = f"program_{k}" if k < n_export else None
    if rows:
        export_file(run.file("programs.py"), rows[:n_export], cfg.to_scalar)
    run.write_json("hall_of_fame.json", {"task_networks": {s: len(v) for s, v in task.nets.items()}, "programs": rows})
    plot(run)
    return rows


def plot(run):
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
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(g, [float(r["best"]) for r in rows], marker="o", label="best")
    ax.plot(g, [float(r["median"]) for r in rows], marker=".", label="median")
    ax.set_xlabel("generation")
    ax.set_ylabel("fitness (min Kendall tau)")
    ax.legend()
    fig.tight_layout()
    path = run.file("fitness.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
