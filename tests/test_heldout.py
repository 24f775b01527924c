import os

import numpy as np
import pytest
import torch

from eznas import heldout
from eznas.collection import collect_space, collection_config
from eznas.parallel import score_items
from eznas.spaces.sources import load_ground_truth
from stats_cache.store import StatsStore

PROGRAMS = {"p0": "layer_sum(l1_norm(T1G_D))", "p1": "frobenius_norm(T2_N)"}


def test_streamed_test_networks_score_as_stored_ones(tmp_path):
    gt = load_ground_truth("bench_sss")
    url = str(tmp_path / "s.zarr")
    store = StatsStore(url, "a", config=collection_config("digits", 1, 3, "float32", "rcb", "sum"))
    idx = [5, 17, 40]
    collect_space(gt, store, idx, 3, "cpu", False)
    data_cfg = {**store.space_config("bench_sss-digits"), "seed": 3}
    rows = heldout.stream_test(gt, idx, PROGRAMS, data_cfg)
    keys = [f"n{i:06d}" for i in idx]
    stored = score_items(url, list(PROGRAMS.values()) + list(heldout.PROGRAM_BASELINES.values()),
                         [("bench_sss-digits", k) for k in keys])
    streamed = np.array([[r[n] for r in rows] for n in list(PROGRAMS) + list(heldout.PROGRAM_BASELINES)])
    assert np.allclose(streamed, stored, rtol=1e-12, atol=0)
    for b in heldout.ATTR_BASELINES:
        assert [r[b] for r in rows] == pytest.approx([store.attrs("bench_sss-digits", k)[b] for k in keys], rel=1e-12)


def test_test_sets_are_disjoint_from_the_task_and_specs_are_checked():
    gt = load_ground_truth("bench_sss")
    exclude = {str(a) for a in gt.archs[:500]}
    idx = heldout.pick_test_indices(gt, 100, exclude, 0)
    assert len(set(idx)) == 100 and all(i >= 500 for i in idx)
    with pytest.raises(ValueError, match="outside the task"):
        heldout.pick_test_indices(gt, 600, exclude, 0)
    assert heldout.parse_test("nb201:imagenet16-120:500") == ("nb201", "imagenet16-120", 500)
    for bad in ("nb201:cifar10", "nb201:cifar10:x", "nb201:cifar10:2"):
        with pytest.raises(ValueError, match="--test"):
            heldout.parse_test(bad)
    assert heldout.base_space("nb201-imagenet16-120") == "nb201"


def test_verdict_counts_test_rows_against_size_and_names_the_largest_losses():
    from eznas.heldout import verdict

    res = {"nb201-cifar10 validation": {"n": 12, "program_0": 0.9, "params": 0.1, "flops": 0.1},
           "nb201/cifar10 test": {"n": 100, "program_0": 0.474, "params": 0.5, "flops": 0.3, "eznas_a_sum": 0.679},
           "nb101/cifar10 test": {"n": 60, "program_0": 0.6, "params": 0.5, "flops": 0.55, "synflow": 0.62},
           "tnb101_macro/class_object test": {"n": 60, "program_0": 0.7, "params": 0.1, "flops": 0.6, "eznas_a": 0.2}}
    v = verdict(res)  # test rows only: validation rows are not counted where test sets ran
    assert v.startswith("verdict: program_0 beats params and flops on 2 of 3 held-out test rows (not on nb201/cifar10)")
    assert v.endswith("loses to another baseline on 2: nb201/cifar10 eznas_a_sum 0.679 vs 0.474; nb101/cifar10 synflow 0.620 vs 0.600")
    only_val = {k: r for k, r in res.items() if k.endswith("validation")}
    assert verdict(only_val) == ("verdict: program_0 beats params and flops on 1 of 1 held-out validation rows; "
                                 "no other baseline of the table beats it on any of them")


def test_collection_is_the_same_whatever_the_callers_thread_count(tmp_path, caplog):
    # a TransNAS-Bench-101 macro network: its BatchNorms cancel the sum-of-logits gradient,
    # so its gradient statistics are rounding noise that another thread count changed wholly
    import logging

    from eznas.spaces.sources import load_ground_truth, space_max_channels

    gt = load_ground_truth("tnb101_macro", "class_object")
    cfg = collection_config("photos", 1, 0, "float32", "rcb", "sum", max_channels=space_max_channels("tnb101_macro"))
    old = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            with caplog.at_level(logging.WARNING, logger="eznas.collect"):
                with StatsStore(str(tmp_path / f"t{threads}.zarr"), "a", config=cfg) as store:
                    collect_space(gt, store, [77], 0, "cpu", False)
            assert torch.get_num_threads() == threads  # restored
    finally:
        torch.set_num_threads(old)
    assert "tnb101_macro-class_object: in 1 of 1 networks collected, a BatchNorm received the same gradient" in caplog.text
    a, b = (StatsStore(str(tmp_path / f"t{t}.zarr"), "r").read_network("tnb101_macro-class_object", "n000077")
            for t in (1, 2))
    assert len(a.groups) == len(b.groups)
    for (ia, ta), (ib, tb) in zip(a.groups, b.groups):
        assert ia == ib and all(torch.equal(ta[k], tb[k]) for k in ta)


def test_streamed_scores_are_kept_and_a_rerun_scores_only_what_is_new(tmp_path, monkeypatch):
    gt = load_ground_truth("bench_sss")
    data_cfg = {"data": "digits", "batch_size": 1, "seed": 3, "pattern": "rcb"}
    cache, idx = str(tmp_path / "cache"), [5, 17, 40]
    fresh = heldout.stream_test(gt, idx, PROGRAMS, data_cfg)
    calls = []
    real = heldout._stream_rows

    def counted(programs, *a):
        calls.append((sorted(programs), list(a[-1])))
        return real(programs, *a)

    monkeypatch.setattr(heldout, "_stream_rows", counted)
    assert heldout.stream_test(gt, idx, PROGRAMS, data_cfg, cache=cache) == fresh and len(calls) == 1
    calls.clear()
    assert heldout.stream_test(gt, idx, PROGRAMS, data_cfg, cache=cache) == fresh and calls == []  # all kept
    # one more program and one more network: only those are scored
    more = {**PROGRAMS, "p2": "layer_mean(l1_norm(T4_D))"}
    rows = heldout.stream_test(gt, idx + [60], more, data_cfg, cache=cache)
    assert sorted(calls) == sorted([(["layer_mean(l1_norm(T4_D))"], idx),
                                    (sorted(set(more.values()) | set(heldout.PROGRAM_BASELINES.values())), [60])])
    assert [{k: v for k, v in r.items() if k != "p2"} for r in rows[:3]] == fresh
    assert rows == heldout.stream_test(gt, idx + [60], more, data_cfg)  # as scored afresh
    # a row cut short by a kill is scored again
    folder = heldout.ScoreCache(cache, gt, data_cfg, "mean").dir
    size = os.path.join(folder, "size.csv")
    lines = open(size).read().splitlines()
    open(size, "w").write("\n".join(lines[:-1] + [lines[-1].rsplit(",", 1)[0]]))  # its last field lost
    calls.clear()
    assert heldout.stream_test(gt, idx + [60], more, data_cfg, cache=cache) == rows and [c[1] for c in calls] == [[60]]
    other = heldout.stream_test(gt, idx, PROGRAMS, {**data_cfg, "seed": 4}, cache=cache)  # other settings: own folder
    assert other != fresh and len(os.listdir(os.path.dirname(folder))) == 2
