"""Ranking metrics for proxies: correlations, top/bottom-K precision, best ranking,
NDCG@K, and a complexity-bias table.

Ties: Kendall is tau-b and Spearman uses average ranks (scipy); top-K sets with ties at
the K-th value are cut by a stable sort on the score, then on the original order, so
results are deterministic.  K larger than the list is clipped to its length (``summary``
reports such metrics as n/a instead).
"""
import numpy as np
from scipy import stats


def _arr(x):
    return np.asarray(x, dtype=np.float64)


def kendall(score, acc):
    return float(stats.kendalltau(_arr(score), _arr(acc)).statistic)


def spearman(score, acc):
    return float(stats.spearmanr(_arr(score), _arr(acc)).statistic)


def pearson(score, acc):
    return float(stats.pearsonr(_arr(score), _arr(acc)).statistic)


def _top(x, k):
    """Indices of the k largest values (stable: earlier index first among ties)."""
    return np.argsort(-_arr(x), kind="stable")[:k]


def precision_at_top(score, acc, k):
    """Share of the true top-K found among the predicted top-K."""
    k = min(k, len(score))
    return len(set(_top(score, k)) & set(_top(acc, k))) / k


def precision_at_bottom(score, acc, k):
    k = min(k, len(score))
    return len(set(_top(-_arr(score), k)) & set(_top(-_arr(acc), k))) / k


def best_ranking(score, acc, k):
    """BR@K: best true rank (0 = the best network) among the predicted top-K, as a
    fraction of the list (lower is better)."""
    k = min(k, len(score))
    true_rank = np.empty(len(acc), dtype=int)
    true_rank[_top(acc, len(acc))] = np.arange(len(acc))
    return float(true_rank[_top(score, k)].min()) / len(acc)


def ndcg(score, acc, k):
    """NDCG@K with accuracies min-max rescaled to [0, 1] as relevance (GENNAPE)."""
    a = _arr(acc)
    k = min(k, len(a))
    rel = (a - a.min()) / (a.max() - a.min()) if a.max() > a.min() else np.ones_like(a)
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = float((np.sort(rel)[::-1][:k] * disc).sum())
    got = float((rel[_top(score, k)] * disc).sum())
    return got / ideal if ideal > 0 else 0.0


def complexity_bias(score, acc, flops, bins=5):
    """Per FLOPs quantile bin: mean (predicted rank - true rank) as a fraction of the list
    size, ranks from best (0) down; positive = the proxy overestimates that bin."""
    n = len(score)
    pr, tr = np.empty(n), np.empty(n)
    pr[_top(score, n)] = np.arange(n)
    tr[_top(acc, n)] = np.arange(n)
    edges = np.quantile(_arr(flops), np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, _arr(flops), side="right") - 1, 0, bins - 1)
    return [float(((tr - pr)[which == b]).mean() / n) if np.any(which == b) else float("nan") for b in range(bins)]


def summary(score, acc, ks=(10, 50), percents=(1, 10)):
    """Correlations, then @K metrics for the top K networks (named ``@top10nets``) and
    the top p % of networks (``@top10%``).  A metric over K networks is None ("n/a")
    when n <= K: it would cover (almost) the whole list and say nothing."""
    n = len(score)
    out = {"kendall": kendall(score, acc), "spearman": spearman(score, acc), "pearson": pearson(score, acc)}
    cuts = [(f"{k}nets", k) for k in ks] + [(f"{p}%", int(np.ceil(n * p / 100))) for p in percents]
    for name, k in cuts:
        ok = 0 < k < n
        out[f"precision@top{name}"] = precision_at_top(score, acc, k) if ok else None
        out[f"precision@bottom{name}"] = precision_at_bottom(score, acc, k) if ok else None
        out[f"ndcg@top{name}"] = ndcg(score, acc, k) if ok else None
        out[f"best_rank@top{name}"] = best_ranking(score, acc, k) if ok else None
    return out


def top_of_ranking(score, acc, top_share=0.10, pick_share=0.01):
    """(Kendall tau among the top ``top_share`` of networks by accuracy, mean accuracy of
    the top ``pick_share`` by ``score``), over the networks ``score`` is finite on (NaN
    when fewer than 10 are; at least 3 networks for the tau, 1 for the pick).  NAS rewards
    the top of a ranking: the first says whether a proxy orders the best networks, the
    second what its best picks are worth."""
    s, a = _arr(score), _arr(acc)
    ok = np.isfinite(s)
    s, a = s[ok], a[ok]
    if len(a) < 10:
        return float("nan"), float("nan")
    top = _top(a, max(3, int(np.ceil(top_share * len(a)))))
    best = _top(s, max(1, int(np.ceil(pick_share * len(a)))))
    t = stats.kendalltau(s[top], a[top]).statistic
    return float(t) if np.isfinite(t) else float("nan"), float(a[best].mean())
