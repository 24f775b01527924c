"""TransNAS-Bench-101 macro and micro spaces: builders against the benchmark's reference
params, ids, loaders, neighbours, and one collection + scoring per space."""
import csv
import os

import numpy as np
import pytest
import torch

from eznas.spaces import benchmarks as B
from eznas.spaces import registry, tnb101
from eznas.spaces.sources import load_ground_truth
from stats_cache.layers import find_layers

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "benchmarks", "transnas101")
need_shared = pytest.mark.skipif(not os.path.exists(SHARED), reason="../shared/benchmarks/transnas101 not present")

# (NASLib tuple, task, reference params in millions) copied from <space>/<task>_proxies.csv;
# NASLib built the head as Linear(C, 100) for class_object and Linear(C, 63) for class_scene.
MACRO_PARAMS = [("(1, 2, 4, 2, 0, 0)", "class_object", 11.237764), ("(1, 4, 4, 3, 0, 0)", "class_object", 5.245828),
                ("(1, 4, 3, 3, 1, 2)", "class_scene", 4.614751), ("(4, 4, 4, 1, 0, 0)", "class_scene", 20.512095)]
MICRO_PARAMS = [("(1, 0, 0, 2, 1, 0)", "class_object", 0.929668), ("(0, 1, 1, 3, 1, 0)", "class_object", 6.369156),
                ("(0, 3, 2, 2, 1, 0)", "class_scene", 7.718495), ("(1, 1, 2, 2, 3, 2)", "class_scene", 10.471519)]


def meta_params(build, arch, num_classes):
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        net = build(arch, num_classes=num_classes, init=False)
    return sum(p.numel() for p in net.parameters()) / 1e6


@pytest.mark.parametrize("space,build,cases", [("tnb101_macro", tnb101.build_macro, MACRO_PARAMS),
                                               ("tnb101_micro", tnb101.build_micro, MICRO_PARAMS)])
def test_param_counts_match_the_reference(space, build, cases):
    for naslib, task, params in cases:
        arch = tnb101.from_naslib(space, naslib)
        assert meta_params(build, arch, tnb101.NASLIB_HEAD[task]) == pytest.approx(params, abs=5e-7), naslib
        stages = tnb101.MICRO_SKELETON if space == "tnb101_micro" else tnb101.parse_macro(arch)
        width = tnb101.BASE * 2 ** sum(d in (2, 4) for d in stages)  # channels into the head
        head = (tnb101.NASLIB_HEAD[task] - B.NUM_CLASSES[task]) * (width + 1) / 1e6  # ours: 75 / 47 classes
        assert meta_params(build, arch, B.NUM_CLASSES[task]) == pytest.approx(params - head, abs=5e-7)


def test_ids_conversion_and_enumeration():
    assert tnb101.from_naslib("tnb101_macro", "(1, 2, 4, 2, 0, 0)") == "64-1242-basic"
    assert tnb101.from_naslib("tnb101_macro", "(2, 3, 1, 1)") == "64-2311-basic"
    assert tnb101.from_naslib("tnb101_micro", "(1, 0, 2, 3, 3, 3)") == "64-41414-1_02_333"
    assert tnb101.N_MACRO == 3256 and tnb101.N_MICRO == 4096
    macro = [tnb101.macro_arch(i) for i in range(tnb101.N_MACRO)]
    micro = [tnb101.micro_arch(i) for i in range(tnb101.N_MICRO)]
    assert len(set(macro)) == 3256 and len(set(micro)) == 4096
    assert all(tnb101.macro_index(a) == i for i, a in enumerate(macro))
    assert all(tnb101.micro_index(a) == i for i, a in enumerate(micro))
    assert macro[0] == "64-1114-basic" and micro[0] == "64-41414-0_00_000" and micro[-1] == "64-41414-3_33_333"
    for name in ("tnb101_macro", "tnb101_micro"):
        sp = registry.get(name)
        assert sp.pattern == "rcb" and sp.datasets == ("class_object", "class_scene")
        assert sp.input_shape("class_object") == (3, tnb101.RESOLUTION[name])


@pytest.mark.parametrize("space,bad", [
    ("tnb101_macro", "64-1111-basic"),  # never halves the resolution
    ("tnb101_macro", "64-1113-basic"),  # never doubles the channels
    ("tnb101_macro", "64-33333-basic"),  # halves it 5 times
    ("tnb101_macro", "64-124-basic"), ("tnb101_macro", "64-1242424-basic"), ("tnb101_macro", "64-1250-basic"),
    ("tnb101_macro", "32-1242-basic"), ("tnb101_macro", "64-1242-1_02_333"), ("tnb101_macro", " 64-1242-basic"),
    ("tnb101_macro", "(1, 2, 4, 2, 0, 0)"), ("tnb101_macro", 1242), ("tnb101_macro", None),
    ("tnb101_micro", "64-41414-1_02_334"), ("tnb101_micro", "64-41414-1_02_33"), ("tnb101_micro", "64-14141-1_02_333"),
    ("tnb101_micro", "64-41414-102333"), ("tnb101_micro", "(1, 0, 2, 3, 3, 3)"), ("tnb101_micro", "64-1242-basic"),
    ("tnb101_micro", ["64-41414-1_02_333"]),
])
def test_check_refuses_non_members(space, bad):
    with pytest.raises(ValueError):
        registry.get(space).check(bad)


def test_check_accepts_members():
    registry.get("tnb101_macro").check("64-1242-basic")
    registry.get("tnb101_macro").check("64-422333-basic")
    registry.get("tnb101_micro").check("64-41414-1_02_333")


@pytest.mark.parametrize("space,count", [("tnb101_macro", None), ("tnb101_micro", 18)])
def test_neighbours_are_valid_distinct_and_exclude_the_arch(space, count):
    sp = registry.get(space)
    for arch in sp.sample(40, seed=3) + [sp.arch_of(0), sp.arch_of(sp.size - 1)]:
        nb = sp.neighbours(arch)
        assert nb and arch not in nb and len(set(nb)) == len(nb)
        for other in nb:
            sp.check(other)
            assert arch in sp.neighbours(other)  # one choice away both ways
        if count:
            assert len(nb) == count
    nb = sp.neighbours("64-1242-basic" if space == "tnb101_macro" else "64-41414-1_02_333")
    if space == "tnb101_macro":
        assert "64-1342-basic" in nb and "64-12423-basic" in nb and "64-242-basic" not in nb
        assert "64-1112-basic" not in sp.neighbours("64-1114-basic")  # no halving left: not in the space


def test_layers_are_found_with_one_relu_each():
    net = tnb101.build_macro("64-1114-basic")
    layers = find_layers(net, torch.randn(1, 3, 64, 64))
    assert len(layers) == 1 + 4 * 2 * 2  # stem ReLU-Conv-BN + two per basic block; shortcuts and stem conv are not
    assert len({id(l.relu) for l in layers}) == len(layers)
    net = tnb101.build_micro("64-41414-3_33_333")
    assert len(find_layers(net, torch.randn(1, 3, 64, 64))) == 1 + 10 * 6
    net = tnb101.build_micro("64-41414-1_00_000")  # skip edges change the shape in the first cell of each 4-stage
    assert len(find_layers(net, torch.randn(1, 3, 64, 64))) == 1  # FactorizedReduce concatenates: not a layer


@pytest.mark.parametrize("space,arch", [("tnb101_macro", "64-4443-basic"), ("tnb101_micro", "64-41414-3_33_000")])
def test_deepest_networks_run_at_batch_one(space, arch):
    sp = registry.get(space)
    net = sp.build(arch, num_classes=75)
    c, size = sp.input_shape("class_object")
    out = net(torch.randn(1, c, size, size))
    out.sum().backward()  # train-mode BN: every stage still has more than one value per channel
    assert out.shape == (1, 75)


def test_shipped_tables():
    for space, n in (("tnb101_macro", 3256), ("tnb101_micro", 4096)):
        sp = registry.get(space)
        for task in ("class_object", "class_scene"):
            gt = load_ground_truth(space, task)
            assert len(gt) == n and gt.archs == [sp.arch_of(i) for i in range(n)]
            assert np.isfinite(gt.accuracy).all() and 0 < gt.accuracy.min() < gt.accuracy.max() < 100
    assert load_ground_truth("tnb101_macro", "class_scene").accuracy[0] == pytest.approx(49.995025634765625)


@need_shared
def test_shared_files_load_and_equal_the_shipped_tables():
    for sub in ("macro", "micro"):
        space = f"tnb101_{sub}"
        for task in ("class_object", "class_scene"):
            ref = load_ground_truth(space, task, os.path.join(SHARED, sub, f"{task}.csv"))
            shipped = load_ground_truth(space, task)
            order = shipped.index
            assert sorted(order[a] for a in ref.archs) == list(range(len(shipped)))
            assert np.array_equal(shipped.accuracy[[order[a] for a in ref.archs]], ref.accuracy)
            prox = load_ground_truth(space, task, os.path.join(SHARED, sub, f"{task}_proxies.csv"))
            assert set(prox.columns) == {"flops", "params"} and len(prox) > 600


def write_rows(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


def test_loader_errors_name_the_file_and_row(tmp_path):
    bad = write_rows(tmp_path / "bad.csv", ["arch", "val_accuracy"],
                     [["(1, 2, 4, 2, 0, 0)", 46.2], ["(1, 1, 1, 1, 0, 0)", 40.0]])
    with pytest.raises(B.GroundTruthError, match=r"bad.csv: data row 2: architecture '\(1, 1, 1, 1, 0, 0\)'"):
        load_ground_truth("tnb101_macro", "class_object", bad)
    bad = write_rows(tmp_path / "bad2.csv", ["arch", "accuracy"], [["64-41414-1_02_333", 40], ["(0, 1, 4, 0, 0, 0)", 41]])
    with pytest.raises(B.GroundTruthError, match=r"bad2.csv: data row 2: .*not a tnb101_micro"):
        load_ground_truth("tnb101_micro", "class_scene", bad)
    bad = write_rows(tmp_path / "bad3.csv", ["arch", "accuracy"], [["64-1242-basic", 40], ["(1, 2, 0, 4, 2, 0)", 41]])
    with pytest.raises(B.GroundTruthError, match=r"bad3.csv: data row 2"):
        load_ground_truth("tnb101_macro", "class_scene", bad)
    dup = write_rows(tmp_path / "dup.csv", ["arch", "accuracy"], [["64-1242-basic", 40], ["(1, 2, 4, 2, 0, 0)", 41]])
    with pytest.raises(B.GroundTruthError, match=r"dup.csv: data rows 1 and 2"):
        load_ground_truth("tnb101_macro", "class_scene", dup)
    with pytest.raises(B.GroundTruthError, match="missing.csv"):
        load_ground_truth("tnb101_macro", "class_object", str(tmp_path / "missing.csv"))
    with pytest.raises(B.GroundTruthError, match="missing.pth"):
        load_ground_truth("tnb101_micro", "class_object", str(tmp_path / "missing.pth"))
    other = write_rows(tmp_path / "class_scene.csv", ["arch", "val_accuracy"], [["(1, 2, 4, 2, 0, 0)", 46.2]])
    with pytest.raises(B.GroundTruthError, match="class_scene.csv: this is the 'class_scene' file"):
        load_ground_truth("tnb101_macro", "class_object", other)
    cols = write_rows(tmp_path / "cols.csv", ["net", "acc"], [["64-1242-basic", 1]])
    with pytest.raises(B.GroundTruthError, match="cols.csv: expected columns 'arch'"):
        load_ground_truth("tnb101_macro", "class_object", cols)


def test_portable_table_and_official_database(tmp_path):
    t = write_rows(tmp_path / "t.csv", ["arch", "accuracy_class_object", "flops"],
                   [["64-1242-basic", 46.5, 10.0], ["(2, 3, 1, 1)", 45.0, 11.0]])
    gt = load_ground_truth("tnb101_macro", "class_object", t)
    assert gt.archs == ["64-1242-basic", "64-2311-basic"] and list(gt.accuracy) == [46.5, 45.0]
    assert list(gt.columns["flops"]) == [10.0, 11.0]
    metrics = {t: {"metrics": {"valid_top1": [10.0, 33.5]}} for t in ("class_object", "class_scene")}
    db = {"metrics_dict": {}, "task_list": ["class_object", "class_scene"],
          "data": {"macro": {"64-1242-basic": metrics}, "micro": {"64-41414-1_02_333": metrics}}}
    torch.save(db, tmp_path / "tnb.pth")
    gt = load_ground_truth("tnb101_micro", "class_scene", str(tmp_path / "tnb.pth"))
    assert gt.archs == ["64-41414-1_02_333"] and gt.accuracy[0] == 33.5
    torch.save({"data": {"macro": {"64-1242-basic": metrics}}, "x": np.float32}, tmp_path / "obj.pth")
    with pytest.raises(B.GroundTruthError, match="obj.pth: not a TransNAS-Bench-101 database readable with torch.load"):
        load_ground_truth("tnb101_macro", "class_object", str(tmp_path / "obj.pth"))


SMALL = {"tnb101_macro": ["64-1114-basic", "64-1123-basic", "64-2113-basic"],
         "tnb101_micro": ["64-41414-0_00_200", "64-41414-1_00_120", "64-41414-2_10_012"]}


@pytest.mark.parametrize("space", ["tnb101_macro", "tnb101_micro"])
def test_collect_and_score_three_networks(space, tmp_path, cli, monkeypatch):
    from eznas.collection import collect_space, collection_config
    from eznas.parallel import score_items
    from stats_cache.store import StatsStore

    monkeypatch.setitem(tnb101.RESOLUTION, space, 32)  # small inputs; batch 2 keeps every BN above one value
    table = write_rows(tmp_path / "three.csv", ["arch", "accuracy"], zip(SMALL[space], [40.5, 42.0, 44.25]))
    gt = load_ground_truth(space, "class_object", table)
    url = str(tmp_path / "s.zarr")
    with StatsStore(url, "a", config=collection_config("photos", 2, 0, "float32", "rcb", "sum")) as store:
        written, _, _ = collect_space(gt, store, [0, 1, 2], 0, "cpu", False)
    assert written == 3
    key = f"{space}-class_object"
    store = StatsStore(url, "r")
    attrs = store.attrs(key, "n000000")
    with torch.device("meta"):
        ref = sum(p.numel() for p in registry.get(space).build(SMALL[space][0], num_classes=75, init=False).parameters())
    assert attrs["arch"] == SMALL[space][0] and attrs["params"] == pytest.approx(ref / 1e6, abs=5e-7)
    scores = score_items(url, ["layer_sum(l1_norm(T1G_D))", "layer_mean(frobenius_norm(T2_N))"],
                         [(key, f"n{i:06d}") for i in range(3)])
    assert scores.shape == (2, 3) and np.isfinite(scores).all()
    code, out, err = cli("score", "--space", space, "--dataset", "class_object", "--ground-truth", table,
                         "--proxy", "params", "--n", "3", "--out", tmp_path / "p.csv", "--quiet")
    assert code == 0 and "networks 3" in out, err
    rows = {r["arch"]: r for r in csv.DictReader(open(tmp_path / "p.csv"))}
    assert set(rows) == set(SMALL[space])
