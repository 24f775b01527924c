import numpy as np
import pytest

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
