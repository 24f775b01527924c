"""The default task on real benchmarks, the channel limit of wide layers' statistics, and
programs scored on Conv-BN-ReLU spaces."""
import os
import re

import numpy as np
import pytest
import torch
import torch.nn as nn

from eznas.collection import collection_config
from eznas.evolve import builtin
from eznas.heldout import parse_test, pick_test_indices
from eznas.spaces.sources import load_ground_truth, space_max_channels, space_pattern
from stats_cache.collect import collect


def test_default_task_is_real_benchmarks_only():
    spaces = {s for s, _ in builtin.TASK}
    assert spaces == {"nb201", "tnb101_macro", "tnb101_micro", "nb101"}
    assert not any(s.startswith("bench") for s in spaces)
    for space, dataset in builtin.TASK:  # every table ships: no path needed
        gt = load_ground_truth(space, dataset)
        assert len(gt) >= 300 and np.isfinite(gt.accuracy).all()
    # a test row outside the task set for every space, and NB201 ImageNet16-120 as test-only
    tested = {parse_test(t)[:2] for t in builtin.DEFAULT_TESTS}
    assert set(builtin.TASK) <= tested and ("nb201", "imagenet16-120") in tested
    for spec in builtin.DEFAULT_TESTS:  # enough networks outside any task of task_nets networks
        space, dataset, n = parse_test(spec)
        gt = load_ground_truth(space, dataset)
        assert len(gt) - builtin.DEFAULTS["task_nets"] >= n


def test_spaces_record_their_layer_block_and_channel_limit():
    assert space_pattern("nb101") == "cbr" and space_pattern("tnb101_macro") == "rcb"
    assert space_max_channels("nb201") is None and space_max_channels("tnb101_micro") == 64
    # a store of NB201 keeps the config it had (no max_channels key), so its hash is unchanged
    assert "max_channels" not in collection_config("photos", 1, 0, "float32", "rcb", "sum")
    assert collection_config("photos", 1, 0, "float32", "rcb", "sum", max_channels=64)["max_channels"] == 64


class Wide(nn.Module):
    """RCB layers of 3 -> 6 -> 3 channels."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 3, 3, padding=1)
        self.a = nn.Sequential(nn.ReLU(), nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6))
        self.b = nn.Sequential(nn.ReLU(), nn.Conv2d(6, 3, 1), nn.BatchNorm2d(3))
        self.head = nn.Linear(3, 2)

    def forward(self, x):
        return self.head(self.b(self.a(self.stem(x))).mean((2, 3)))


def test_channel_limit_keeps_narrow_layers_and_slices_wide_ones():
    torch.manual_seed(0)
    model, x = Wide(), torch.randn(2, 3, 8, 8)
    full = collect(model, x, seed=3)
    cut = collect(model, x, seed=3, max_channels=4)
    same = collect(model, x, seed=3, max_channels=6)  # no layer is wider: bit-identical
    for f, c, s in zip(full, cut, same):
        for kind, t in f.tensors.items():
            assert torch.equal(s.tensors[kind], t)
            want = t[:4, :4] if kind.startswith("T3") else t[:, :4]
            assert torch.equal(c.tensors[kind], want), kind
    assert cut[0].tensors["T2_D"].shape == (2, 4, 8, 8) and cut[0].tensors["T3"].shape == (4, 3, 3, 3)
    assert cut[1].tensors["T1_D"].shape == (2, 4, 8, 8) and cut[1].tensors["T3G_N"].shape == (3, 4, 1, 1)


@pytest.mark.parametrize("space,dataset", [("tnb101_micro", "class_object"), ("nb101", "cifar10")])
def test_eznas_score_reads_a_network_as_the_store_records_it(space, dataset, tmp_path):
    """A program scored by eznas score / nas (Scoring) equals the same program on the stored
    statistics of the same network, collected with the space's defaults (layer block,
    channel limit, input size): the store, the held-out tests and eznas score agree."""
    from eznas.collection import collect_space
    from eznas.parallel import score_items
    from eznas.score import Scoring
    from stats_cache.store import StatsStore, net_key

    gt = load_ground_truth(space, dataset)
    # a network whose every path has convolutions
    i = gt.index["64-41414-3_33_333"] if space == "tnb101_micro" else next(k for k, a in enumerate(gt.archs) if "conv3x3" in a)
    cfg = collection_config("photos", 1, 0, "float32", space_pattern(space), "sum", max_channels=space_max_channels(space))
    url = str(tmp_path / "s.zarr")
    with StatsStore(url, "a", config=cfg) as store:
        collect_space(gt, store, [i], 0, "cpu", False)
    program = "layer_sum(l1_norm(T1G_D))"
    stored = float(score_items(url, [program], [(f"{space}-{dataset}", net_key(i))])[0][0])
    row = next(Scoring(program, gt, "photos", 1, 0, "cpu").rows([i]))
    assert float(row["score"]) == pytest.approx(stored, rel=1e-5)
    # the same program on every channel is another number: the limit is really applied
    with StatsStore(str(tmp_path / "full.zarr"), "a", config={**cfg, "max_channels": 100000}) as store:
        collect_space(gt, store, [i], 0, "cpu", False)
    full = float(score_items(str(tmp_path / "full.zarr"), [program], [(f"{space}-{dataset}", net_key(i))])[0][0])
    assert full != pytest.approx(stored, rel=1e-5)


def test_duplicate_architectures_are_refused_naming_the_rows(tmp_path):
    from eznas.spaces.benchmarks import GroundTruthError

    table = tmp_path / "dup.csv"
    table.write_text("arch,accuracy\n64-1242-basic,45.0\n64-1234-basic,40.0\n64-1242-basic,10.0\n")
    with pytest.raises(GroundTruthError, match=r"dup.csv.*(rows 1 and 3|row 3)"):
        load_ground_truth("tnb101_macro", "class_object", str(table))


NB101_SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "benchmarks", "nb101", "nb101_500_cifar10.csv")


@pytest.mark.skipif(not os.path.exists(NB101_SHARED), reason="../shared/benchmarks not present")
def test_nb101_repeated_cells_of_the_naslib_sample_become_one_network(tmp_path):
    """NAS-Bench-Suite-Zero's file repeats cells (random matrices that prune alike): one
    network each, with the mean of its rows' accuracies, as the shipped table."""
    shared = NB101_SHARED
    gt = load_ground_truth("nb101", "cifar10", shared)
    shipped = load_ground_truth("nb101")
    assert len(gt) == len(set(gt.archs)) == 301 and gt.archs == shipped.archs
    assert np.allclose(gt.accuracy, shipped.accuracy)


def test_programs_read_conv_bn_relu_networks_of_nb101():
    """A program string scored on NB101 (Conv-BN-ReLU) through eznas score's scorer reads
    its layers, as the store does: every convolution of the network is one CBR layer."""
    from eznas.score import make_scorer

    gt = load_ground_truth("nb101")
    torch.manual_seed(0)
    model = gt.build("010,001,000|conv1x1")
    x = torch.randn(1, 3, 32, 32)
    s = make_scorer("layer_sum(l1_norm(T1G_D))", space_pattern("nb101"))(model, x)
    assert np.isfinite(s) and s > 0
    s = make_scorer("eznas_a_sum", "cbr")(model, x)
    assert np.isfinite(s)
    convs = sum(isinstance(m, nn.Conv2d) for m in model.modules())
    assert len(collect(model, x, pattern="cbr", kinds=["T1_D"])) == convs
    assert len(collect(model, x, pattern="rcb", kinds=["T1_D"])) != convs  # the wrong block reads other pairs


def test_score_writes_into_a_folder_that_does_not_exist_yet(tmp_path, cli):
    out = tmp_path / "new" / "deeper" / "p.csv"
    code, stdout, err = cli("score", "--space", "nb101", "--proxy", "params", "--n", "3", "--out", out, "--quiet")
    assert code == 0, err
    assert out.exists() and len(out.read_text().splitlines()) == 4


def test_presets_are_found_by_name_and_checked():
    from eznas.evolve.config import Config

    path = builtin.preset_path("overnight")
    cfg = Config.from_sources(path)
    assert cfg.generations == 15 and cfg.population == 50 and cfg.spaces_per_gen == len(builtin.TASK)
    assert {parse_test(t)[:2] for t in cfg.tests} >= set(builtin.TASK)
    assert builtin.toml_store(path) == "" and builtin.preset_store("overnight") == "runs/overnight-stats.zarr"
    with pytest.raises(ValueError, match="no preset of that name .*overnight"):
        builtin.preset_path("nightly")


def test_nas_and_analyze_run_on_the_new_spaces(tmp_path, cli):
    code, out, err = cli("nas", "--space", "tnb101_micro", "--dataset", "class_scene", "--proxy", "params",
                         "--variants", "random", "warmup", "--seeds", "2", "--queries", "12", "--pool", "12",
                         "--out", tmp_path / "nas", "--cache", tmp_path / "cache", "--quiet")
    assert code == 0, err
    md = (tmp_path / "nas" / "nas.md").read_text()
    assert "warmup" in md and "params" in md
    code, out, err = cli("analyze", "layer_sum(l1_norm(T1G_D))", "--space", "nb101", "--draws", "2",
                         "--out", tmp_path / "an", "--quiet")
    assert code == 0, err
    text = (tmp_path / "an" / "analyze.md").read_text()
    assert "Per-layer contributions on nb101" in text and text.count("| layers.") >= 9  # a layer row per convolution


def test_builtin_store_of_another_seed_says_to_pass_it_as_the_store(tmp_path):
    import numpy as np

    from eznas.evolve.builtin import ensure_builtin_store
    from stats_cache.store import StatsStore
    from tests.conftest import fake_layers

    url = str(tmp_path / "stats.zarr")
    store = StatsStore(url, "a", config={"synthetic": True, "dtype": "float32", "seed": 0})
    store.write_network("nb201-cifar10", "n000000", fake_layers(np.random.default_rng(0), 90.0), {"accuracy": 90.0})
    with pytest.raises(ValueError, match=r"seed 0 .*--store " + re.escape(url)):
        ensure_builtin_store(url, 5, seed=1, progress=False)
