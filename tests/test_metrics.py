import math

import numpy as np
from scipy import stats

import pytest

from eznas import metrics as M

ACC = [90.0, 70.0, 80.0, 60.0, 50.0]


def test_perfect_proxy():
    assert M.kendall(ACC, ACC) == pytest.approx(1) and M.spearman(ACC, ACC) == pytest.approx(1)
    assert M.precision_at_top(ACC, ACC, 2) == 1 and M.ndcg(ACC, ACC, 3) == pytest.approx(1)
    assert M.best_ranking(ACC, ACC, 1) == 0


def test_hand_computed_kendall_with_ties():
    # pairs of (score, acc): concordant/discordant by hand; tau-b with one tie in score
    s, a = [1, 2, 2, 4], [1, 3, 2, 4]
    # pairs: (0,1)C (0,2)C (0,3)C (1,2) tie in s (1,3)C (2,3)C -> nc=5, nd=0, ties_s=1
    expect = 5 / math.sqrt((6 - 1) * 6)
    assert M.kendall(s, a) == pytest.approx(expect)
    assert M.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1)


def test_top_bottom_k_and_k_too_large():
    score = [5, 4, 3, 2, 1]  # predicts order 0,1,2,3,4; truth order 0,2,1,3,4
    assert M.precision_at_top(score, ACC, 1) == 1
    assert M.precision_at_top(score, ACC, 2) == 0.5  # {0,1} vs {0,2}
    assert M.precision_at_bottom(score, ACC, 2) == 1  # {3,4} both
    assert M.precision_at_top(score, ACC, 50) == 1  # K clipped to 5
    assert M.best_ranking(score, ACC, 2) == 0


def test_ndcg_hand_value():
    # relevance = (acc-50)/40 -> [1, .5, .75, .25, 0]; predicted top-2 = items 3, 4 (worst)
    score = [0, 0.1, 0.2, 0.9, 1.0]
    got = (0.0 / math.log2(2) + 0.25 / math.log2(3))
    ideal = 1.0 / math.log2(2) + 0.75 / math.log2(3)
    assert M.ndcg(score, ACC, 2) == pytest.approx(got / ideal)


def test_complexity_bias_sign():
    flops = [1, 2, 3, 4, 5]
    acc = [10, 20, 30, 40, 50]
    score = [50, 40, 30, 20, 10]  # ranks the cheapest first: overestimates low-FLOPs bins
    bias = M.complexity_bias(score, acc, flops, bins=5)
    assert bias[0] > 0 and bias[-1] < 0 and bias[2] == 0


def test_top_of_ranking_known_answers():
    from eznas.metrics import top_of_ranking

    acc = np.arange(100.0)
    assert top_of_ranking(acc, acc) == pytest.approx((1.0, 99.0))
    assert top_of_ranking(-acc, acc) == pytest.approx((-1.0, 0.0))
    # good overall, shuffled among the best 10: overall order says nothing about the top
    score = acc.copy()
    score[90:] = score[90:][[3, 7, 1, 9, 0, 5, 2, 8, 4, 6]]
    tau, best = top_of_ranking(score, acc)
    assert tau == pytest.approx(stats.kendalltau(score[90:], acc[90:]).statistic) and best == 93.0
    score = acc.copy()
    score[99] = np.nan  # a network the proxy cannot score is left out
    assert top_of_ranking(score, acc) == pytest.approx((1.0, 98.0))
    assert np.isnan(top_of_ranking(acc[:5], acc[:5])[0])
