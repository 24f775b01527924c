"""Architecture search on table benchmarks (eznas nas): the algorithms against known
answers with an oracle proxy, the on-disk proxy cache, and the command end to end."""
import csv
import random

import numpy as np
import pytest

from eznas.nas import NasResult, ProxyScores, Settings, TableBenchmark, aging_evolution, random_search, run_nas
from eznas.nas.experiment import Curve
from eznas.nas.search import best_so_far, warmup_pool
from eznas.spaces import nb201
from eznas.spaces.complexity import count_params
from eznas.spaces.sources import load_ground_truth


@pytest.fixture(scope="module")
def nb201_c10():
    return TableBenchmark(load_ground_truth("nb201", "cifar10"))


def one_edit_apart(a, b):
    return sum(x != y for x, y in zip(nb201.parse(a), nb201.parse(b))) == 1


def test_neighbours_are_one_edge_away_and_in_the_table(nb201_c10):
    near = nb201_c10.neighbours(123)
    assert len(near) == 24 == len(set(near))
    arch = nb201_c10.gt.archs[123]
    assert all(one_edit_apart(arch, nb201_c10.gt.archs[j]) for j in near)


def test_random_search_draws_distinct_networks_reproducibly(nb201_c10):
    h, scored = random_search(nb201_c10, 100, seed=3)
    assert len(h) == len(set(h)) == 100 and not scored
    assert h == random_search(nb201_c10, 100, seed=3)[0] != random_search(nb201_c10, 100, seed=4)[0]


def test_aging_evolution_trains_mutants_of_earlier_networks(nb201_c10):
    h, scored = aging_evolution(nb201_c10, 80, seed=1, population=10, sample=3)
    assert len(h) == len(set(h)) == 80 and not scored
    archs = nb201_c10.gt.archs
    for k in range(10, 80):  # after the random population, every network is a mutant of one trained before
        assert any(one_edit_apart(archs[h[k]], archs[j]) for j in h[:k])
    best = best_so_far(nb201_c10, h, 100)
    acc = nb201_c10.accuracy[h]
    assert np.all(np.diff(best) >= 0) and best[79] == acc.max() and best[99] == best[79]  # carried on after a stop
    assert best[9] == acc[:10].max()


def test_warmup_with_an_oracle_proxy_starts_from_the_best_networks(nb201_c10):
    oracle = lambda idx: nb201_c10.accuracy[idx]  # noqa: E731  (a proxy that knows the answer)
    h, scored = aging_evolution(nb201_c10, 30, seed=0, population=10, proxy=oracle, pool=len(nb201_c10))
    assert nb201_c10.accuracy[h[0]] == nb201_c10.accuracy.max()  # trained first
    top10 = np.sort(nb201_c10.accuracy)[::-1][:10]
    assert np.allclose(np.sort(nb201_c10.accuracy[h[:10]])[::-1], top10)
    assert len(scored) == len(nb201_c10)
    worst, _ = aging_evolution(nb201_c10, 10, seed=0, population=10, proxy=lambda idx: -oracle(idx), pool=2000)
    assert nb201_c10.accuracy[worst].max() < 20  # an anti-oracle warm-up starts from disconnected cells


def test_move_proposal_trains_the_best_scored_mutant(nb201_c10):
    calls = []

    def oracle(idx):
        calls.append(list(idx))
        return nb201_c10.accuracy[idx]

    acc = nb201_c10.accuracy
    h, scored = aging_evolution(nb201_c10, 40, seed=2, population=10, sample=10, proxy=oracle, children=24)
    assert len(calls) >= 30 and all(len(c) == 24 for c in calls) and len(h) == len(set(h)) == 40
    trained, pos = set(h[:10]), 10
    for kids in calls:  # each step trains the best-scored of the 24 mutants not trained yet
        new = [i for i in kids if i not in trained]
        if not new:
            continue
        assert h[pos] in new and acc[h[pos]] == max(acc[i] for i in new)
        trained.add(h[pos])
        pos += 1
        if pos == 40:
            break
    assert pos == 40 and scored == {i for c in calls for i in c}
    plain, _ = aging_evolution(nb201_c10, 40, seed=2, population=10, sample=10)
    assert acc[h].max() >= acc[plain].max()


def test_proxy_scores_are_cached_and_shared(tmp_path):
    gt = load_ground_truth("bench_sss")
    ps = ProxyScores("params", gt, tmp_path, "digits")
    got = ps([5, 1, 5, 9])
    assert ps.computed == 3 and got[0] == got[2]
    assert got[1] == count_params(gt.build(1, in_channels=1))
    again = ProxyScores("params", gt, tmp_path, "digits")
    assert list(again([1, 5, 9])) == [got[1], got[0], got[3]] and again.computed == 0
    assert again.cost() > 0
    other = ProxyScores("params", gt, tmp_path, "digits", seed=1)  # other settings: another file
    assert other.path != ps.path and other([1]) is not None and other.computed == 1
    with open(ps.path, "a") as f:  # rows cut short by a kill are scored again, not read
        f.write(f"{gt.archs[21]},12,90,0.1,0.1,\n{gt.archs[20]},12")
    cut = ProxyScores("params", gt, tmp_path, "digits")
    assert 20 not in cut.scores and 21 not in cut.scores
    assert list(cut([20, 21])) == [count_params(gt.build(i, in_channels=1)) for i in (20, 21)] and cut.computed == 2
    assert cut.cost([20, 21]) == pytest.approx(cut.seconds[20] + cut.seconds[21])


def test_nas_command_end_to_end_on_a_builtin_space(tmp_path, cli):
    out, cache = tmp_path / "out", tmp_path / "cache"
    args = ["nas", "--space", "bench_sss", "--proxy", "params", "--seeds", "2", "--queries", "30", "--population", "8",
            "--sample", "3", "--pool", "40", "--children", "4", "--variants", "random", "ae", "warmup", "move",
            "--target", "97", "--out", out, "--cache", cache, "--quiet"]
    code, stdout, err = cli(*args)
    assert code == 0, err
    assert "| ae+warmup(params) |" in stdout and "queries to mean >= 97" in stdout
    with open(out / "best_so_far.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 * 2 * 30
    gt = load_ground_truth("bench_sss")
    acc = {a: float(x) for a, x in zip(gt.archs, gt.accuracy)}
    for variant in {r["variant"] for r in rows}:
        for seed in ("0", "1"):
            run = [r for r in rows if r["variant"] == variant and r["seed"] == seed]
            best = [float(r["best"]) for r in run]
            assert best == sorted(best) and len(run) == 30
            assert best[-1] == pytest.approx(max(acc[r["arch"]] for r in run), abs=1e-3)
    assert (out / "nas.md").exists() and (out / "best_so_far.png").stat().st_size > 0
    cached = list(cache.rglob("*.csv"))
    assert len(cached) == 1
    size = cached[0].stat().st_size
    code, again, err = cli(*args)
    assert code == 0 and cached[0].stat().st_size == size, err  # a rerun scores nothing
    assert again.split("\n\n")[1] == stdout.split("\n\n")[1]  # and finds the same


def test_warmup_pools_are_scored_before_the_searches_and_nothing_else(tmp_path):
    result = run_nas("bench_sss", proxies=["params", "flops", "params"], variants=["warmup"], cache_dir=tmp_path,
                     settings=Settings(queries=20, seeds=3, population=5, sample=2, pool=30))
    assert [c.label for c in result.curves] == ["ae+warmup(params)", "ae+warmup(flops)", "ae+warmup(params-2)"]
    union = {i for seed in range(3) for i in warmup_pool(1000, 30, random.Random(seed))}
    cache = [f for f in tmp_path.rglob("*.csv") if f.name.startswith("params")]
    with open(cache[0], newline="") as f:
        assert len(cache) == 1 and len(list(csv.DictReader(f))) == len(union)  # the prefill: every pool, no more
    first, third = result.curves[0], result.curves[2]
    assert first.evaluations == [30, 30, 30] and np.array_equal(first.best, third.best)  # one cache, same searches
    assert all(sec > 0 for sec in first.proxy_seconds)


def test_the_table_counts_queries_as_asked():
    best = np.array([[90, 95, 95, 95], [90, 90, 96, 96], [80, 80, 80, 80]], dtype=float)
    r = NasResult("nb201", "cifar10", Settings(queries=4, seeds=3), [Curve("x", best, [[]] * 3)], 96.0)
    assert r.queries_to(r.curves[0], 90) == 3  # mean over seeds: 86.7, 88.3, 90.3, 90.3
    assert r.seed_queries_to(r.curves[0], 95) == 3  # the seeds reach it at 2, at 3 and never
    assert r.seed_queries_to(r.curves[0], 96) is None  # two seeds of three never do
    table = r.table(target=95, at=(2, 25))
    assert "| 2 queries | 4 queries |" in table and "| > 4 | 3 | 2/3 |" in table


def test_a_runs_program_scores_as_its_string(tmp_path):
    import torch

    from eznas.score import make_scorer

    run = tmp_path / "run"
    run.mkdir()
    (run / "hall_of_fame.json").write_text('{"programs": [{"program": "layer_sum(frobenius_norm(T4_N))"}]}')
    (run / "config.json").write_text("{}")
    gt = load_ground_truth("bench_nb201")
    x = torch.randn(1, 1, 8, 8)
    torch.manual_seed(0)
    model = gt.build(7, in_channels=1)
    assert make_scorer(str(run))(model, x) == pytest.approx(make_scorer("layer_sum(frobenius_norm(T4_N))")(model, x))


def test_nas_bad_input(tmp_path, cli):
    code, _, err = cli("nas", "--space", "bench_sss", "--population", "3", "--sample", "5", "--out", tmp_path)
    assert code == 2 and "--sample 5 is larger than --population 3" in err
    code, _, err = cli("nas", "--space", "bench_sss", "--variants", "move", "--children", "1", "--out", tmp_path)
    assert code == 2 and "--children 1: a move proposal compares at least 2 mutants" in err
    code, _, err = cli("nas", "--space", "bench_sss", "--pool", "5", "--out", tmp_path)
    assert code == 2 and "--pool 5 is smaller than --population 10" in err
    code, _, err = cli("nas", "--space", "bench_sss", "--proxy", "nonsense(", "--out", tmp_path, "--cache", tmp_path)
    assert code == 2 and "--proxy 'nonsense('" in err
    run = tmp_path / "run"
    run.mkdir()
    (run / "hall_of_fame.json").write_text('{"programs": [{"program": "layer_mean(l1_norm(T4_N))"}]}')
    (run / "config.json").write_text("{}")
    code, _, err = cli("nas", "--space", "bench_sss", "--proxy", f"{run}:program_9", "--out", tmp_path)
    assert code == 2 and "the run has no program_9 (it has program_0)" in err
    ps = ProxyScores(str(run), load_ground_truth("bench_sss"), tmp_path, "digits")
    assert ps.proxy == "layer_mean(l1_norm(T4_N))" and ps.name == "run-program_0"  # a run's program is its string
    assert ProxyScores("layer_mean(l1_norm(T4_N))", load_ground_truth("bench_sss"), tmp_path, "digits").path == ps.path


def test_a_pool_as_large_as_the_table_is_said_and_the_count_scored_explained(tmp_path, caplog):
    import logging

    from eznas.spaces.sources import PACKAGE_DATA

    with open(f"{PACKAGE_DATA}/bench_sss.csv") as f:
        table = tmp_path / "small.csv"
        table.write_text("".join(f.readlines()[:31]))  # 30 networks: the default --pool 1000 covers them all
    settings = Settings(queries=10, seeds=2, population=5, sample=2)
    run = dict(proxies=["params"], variants=["warmup"], ground_truth=str(table), cache_dir=tmp_path / "cache")
    with caplog.at_level(logging.INFO, logger="eznas.nas"):
        result = run_nas("bench_sss", settings=settings, **run)
    assert "pool capped at the space's 30 networks" in caplog.text
    assert "30 distinct networks across the 2 seeds' pools of 30, 0 of them cached" in caplog.text
    assert "30 to score" in caplog.text and "capped at the space: 30 networks" in result.about
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="eznas.nas"):
        run_nas("bench_sss", settings=Settings(queries=10, seeds=3, population=5, sample=2, pool=20), **run)
    assert "capped" not in caplog.text
    union = {i for seed in range(3) for i in warmup_pool(30, 20, random.Random(seed))}
    assert (f"{len(union)} distinct networks across the 3 seeds' pools of 20, {len(union)} of them cached"
            in caplog.text and "): 0 to score" in caplog.text)
