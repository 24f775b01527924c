"""Fitness: program on every layer -> to_scalar -> mean over layers -> per-space signed
Kendall tau against accuracy -> minimum over the sampled spaces.

A program whose score is NaN/inf or raises on any sampled network is invalid (fitness
None).  A constant score (tau undefined) gets fitness -1.
"""
import numpy as np
from scipy.stats import kendalltau

from eznas.parallel import score_items


def kendall(scores, acc):
    t = kendalltau(scores, acc).statistic
    return -1.0 if not np.isfinite(t) else float(t)


def fitness_from_scores(scores, sample, accuracy):
    """``scores``: (P, len(items)) in the order of ``sample`` flattened; returns
    (fitness list, per-space tau list of dicts)."""
    fits, taus = [], []
    for row in scores:
        if not np.all(np.isfinite(row)):
            fits.append(None)
            taus.append(None)
            continue
        per, k = {}, 0
        for space, keys in sample.items():
            per[space] = kendall(row[k:k + len(keys)], [accuracy[space][key] for key in keys])
            k += len(keys)
        fits.append(min(per.values()))
        taus.append(per)
    return fits, taus


def evaluate(programs, store_url, sample, accuracy, jobs=1, how="mean", **memory):
    """Fitness of program strings on ``sample`` {space: [net keys]}; ``memory``: batch_mb,
    cache_mb (see eznas.parallel)."""
    items = [(s, k) for s, keys in sample.items() for k in keys]
    scores = score_items(store_url, list(programs), items, jobs, how, **memory)
    return fitness_from_scores(scores, sample, accuracy)
