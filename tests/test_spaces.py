import numpy as np
import csv
import json
import os

import pytest
import torch

from eznas.spaces import benchmarks as B
from eznas.spaces import nats_sss, nb201
from eznas.spaces.complexity import count_params
from eznas.spaces.sources import load_ground_truth

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "benchmarks", "nb201")
NB201_CSV = os.path.join(SHARED, "nb201_test_accuracy.csv")
ZC_CSV = os.path.join(SHARED, "zc_proxies_cifar10.csv")
need_shared = pytest.mark.skipif(not os.path.exists(NB201_CSV), reason="../shared/benchmarks not present")


def test_product_index_round_trip_all():
    strings = [nb201.product_string(i) for i in range(nb201.N_ARCHS)]
    assert len(set(strings)) == 15625
    assert all(nb201.product_index(s) == i for i, s in enumerate(strings))


@need_shared
def test_benchmark_order_round_trip_and_published_optima():
    best = {"cifar10": 94.37, "cifar100": 73.51, "imagenet16-120": 47.31}
    for ds, value in best.items():
        gt = B.load_nb201_csv(NB201_CSV, ds)
        assert len(gt) == 15625
        assert round(float(gt.accuracy.max()), 2) == value
    assert len(set(gt.archs)) == 15625
    assert sorted(map(nb201.product_index, gt.archs)) == list(range(15625))


@need_shared
def test_param_counts_match_published_values():
    with open(ZC_CSV, newline="") as f:
        rows = [r for k, r in enumerate(csv.DictReader(f)) if k % 1500 == 0]
    for r in rows:
        assert count_params(nb201.build(r["net_str"])) == pytest.approx(float(r["params"]), abs=1e-6), r["net_str"]


@pytest.mark.parametrize("k", [0, 777, 4321, 15624])
def test_nb201_networks_run_forward(k):
    net = nb201.build(nb201.product_string(k), C=8, N=2)
    assert net(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_nats_sss_configs_and_forward():
    assert nats_sss.config(nats_sss.index("8:16:32:48:64")) == "8:16:32:48:64"
    assert nats_sss.N_ARCHS == 32768 and nats_sss.index("64:64:64:64:64") == 32767
    for cfg in ("8:8:8:8:8", "64:8:40:16:24"):
        assert nats_sss.build(cfg)(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="8:16"):
        nats_sss.parse("8:16")


def test_bad_strings_and_files_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="node 2"):
        nb201.parse("|nor_conv_3x3~0|+|none~0|+|none~0|none~1|none~2|")
    with pytest.raises(B.GroundTruthError, match="missing.csv"):
        B.load_table(str(tmp_path / "missing.csv"), "nb201", "cifar10")
    bad = tmp_path / "bad.csv"
    bad.write_text("name,acc\nx,1\n")
    with pytest.raises(B.GroundTruthError, match="bad.csv.*'arch'"):
        B.load_table(str(bad), "nb201", "cifar10")
    with pytest.raises(ValueError, match="ground-truth"):
        load_ground_truth("nats_sss", "cifar10", None)
    nan = tmp_path / "nan.csv"
    nan.write_text("arch,accuracy\na,1\nb,nan\n")
    with pytest.raises(B.GroundTruthError, match="nan.csv.*row 2"):
        B.load_table(str(nan), "bench_sss", "digits")


def test_shipped_nb201_table_equals_the_benchmark_file():
    import os

    shared = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "benchmarks", "nb201", "nb201_test_accuracy.csv")
    for ds, best in (("cifar10", 94.37), ("cifar100", 73.51), ("imagenet16-120", 47.31)):
        gt = load_ground_truth("nb201", ds)  # no path: the table shipped in the package
        assert len(gt) == 15625 and round(float(gt.accuracy.max()), 2) == best
        if os.path.exists(shared):
            ref = B.load_nb201_csv(shared, ds)
            assert ref.archs == gt.archs and np.array_equal(ref.accuracy, gt.accuracy)


def test_portable_table_and_nds_json(tmp_path):
    t = tmp_path / "t.csv"
    t.write_text("arch,accuracy_cifar10,flops\n" + nb201.BEST_CIFAR10 + ",93.5,10.0\n")
    gt = load_ground_truth("nb201", "cifar10", str(t))
    assert gt.archs == [nb201.BEST_CIFAR10] and gt.accuracy[0] == 93.5 and gt.columns["flops"][0] == 10.0
    assert gt.build(0)(torch.randn(1, 3, 32, 32)).shape == (1, 10)
    j = tmp_path / "DARTS.json"
    j.write_text(json.dumps([{"net": {"genotype": {"normal": [["sep_conv_3x3", 0]]}, "width": 16}, "test_ep_top1": [50.0, 7.5]}]))
    nds = B.load_nds_json(str(j), "darts")
    assert nds.accuracy[0] == 92.5 and nds.space == "nds_darts"
    j.write_text("[{}]")
    with pytest.raises(B.GroundTruthError, match="record 0"):
        B.load_nds_json(str(j), "darts")
