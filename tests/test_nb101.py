"""NAS-Bench-101: ids, pruning, the builder against the benchmark's parameter counts, the
ground-truth loaders and their errors, neighbours, and a collect-and-score run."""
import csv
import gzip
import re

import pytest

from eznas.spaces import nb101, registry
from eznas.spaces.benchmarks import GroundTruthError
from eznas.spaces.complexity import count_flops, count_params
from eznas.spaces.sources import load_ground_truth

# rows of the shared NAS-Bench-Suite-Zero file: NASLib's tuple, the reference params (millions)
ROW1 = ("(0, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, "
        "0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 4, 4, 4, 1)", 4.095778)
ROW447 = ("(0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, "
          "0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 3, 2, 3, 3, 4, 1)", 1.966891)
KNOWN = {  # canonical id -> reference params of its row (rows 1, 447, 91, 6 and 498)
    "011111,000001,000001,000010,000001,000000|maxpool3x3,maxpool3x3,conv3x3,conv3x3": 4.095778,
    "0110000,0001001,0000100,0000010,0000001,0000001,0000000|conv1x1,maxpool3x3,conv1x1,conv1x1,conv3x3": 1.966891,
    "010000,001101,000001,000011,000001,000000|conv1x1,maxpool3x3,maxpool3x3,maxpool3x3": 0.29313,
    "01,00|": 0.88257,
    "011000,001010,000110,000010,000001,000000|conv1x1,conv3x3,conv3x3,conv3x3": 30.679178,
}
HEADER = "arch,val_accuracy,flops,params,epe_nas,fisher,grad_norm,grasp,jacov,l2_norm,nwot,plain,snip,synflow,zen"


def test_registered_record():
    sp = registry.get("nb101")
    assert sp.pattern == "cbr" and sp.datasets == ("cifar10",) and sp.default_data == "photos"
    assert sp.input_shape("cifar10") == (3, 32) and sp.size == 0 and sp.neighbours is nb101.neighbours


@pytest.mark.parametrize("arch", sorted(KNOWN))
def test_param_counts_match_the_benchmark(arch):
    net = nb101.build(arch, init=False)
    assert count_params(net) == pytest.approx(KNOWN[arch], abs=5e-7)  # exact to the reference's 6 decimals


def test_naslib_tuples_convert_and_build():
    for text, params in (ROW1, ROW447):
        arch = nb101.parse_naslib(text)
        nb101.check(arch)
        assert arch in KNOWN and KNOWN[arch] == params
    # row 1 has a dangling vertex (5) that pruning removes; the built network runs
    assert len(nb101.parse(nb101.parse_naslib(ROW1[0]))[0]) == 6
    assert count_flops(nb101.build("01,00|")) > 0


def test_ids_canonical_forms():
    chain = "010,001,000|conv3x3"
    assert nb101.canonical("010,001,000|conv3x3-bn-relu") == chain
    assert nb101.canonical(([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "conv3x3-bn-relu", "output"])) == chain
    # a dangling vertex (2 has no input) is pruned away: the same id
    assert nb101.canonical("0101,0001,0000,0000|conv3x3,maxpool3x3") == "011,001,000|conv3x3"
    with pytest.raises(ValueError, match=r"not in canonical form.*write it as '011,001,000\|conv3x3'"):
        nb101.check("0101,0001,0000,0000|conv3x3,maxpool3x3")
    with pytest.raises(ValueError, match=re.escape("write it as '010,001,000|conv3x3'")):
        nb101.check("010,001,000|conv3x3-bn-relu")
    with pytest.raises(ValueError, match="is a string"):
        nb101.check(([[0, 1], [0, 0]], []))


@pytest.mark.parametrize("arch, why", [
    ("01,10|", "upper triangular"),
    ("011,001,010|conv3x3", "upper triangular"),
    ("0111111,0010000,0001000,0000100,0000010,0000001,0000000|" + ",".join(["conv3x3"] * 5), "11 edges"),
    (",".join("0" * (i + 1) + "1" + "0" * (6 - i) for i in range(7)) + ",00000000|" + ",".join(["conv1x1"] * 6),
     "8 vertices"),
    ("010,001,000|conv5x5", "unknown op 'conv5x5'"),
    ("010,000,000|conv3x3", "input is not connected to the output"),
    ("00,00|", "input is not connected to the output"),
    ("010,001,000|", "need 1 interior ops"),
    ("012,001,000|conv3x3", "digits 0/1"),
    ("010,001|conv3x3", "rows of 2 digits"),
    ("nope", "not a NAS-Bench-101 architecture id"),
])
def test_check_refuses_invalid_cells(arch, why):
    with pytest.raises(ValueError, match=why):
        nb101.check(arch)


@pytest.mark.parametrize("arch", sorted(KNOWN))
def test_neighbours_valid_distinct_and_exclude_the_arch(arch):
    near = nb101.neighbours(arch)
    assert arch not in near and len(near) == len(set(near))
    for a in near:
        nb101.check(a)
    if arch != "01,00|":
        assert near
    n_ops = len(nb101.parse(arch)[1])
    assert len([a for a in near if a.split("|")[0] == arch.split("|")[0]]) == 2 * n_ops  # one op changed


def test_neighbours_of_small_cells():
    assert nb101.neighbours("01,00|") == []  # its one edge removed disconnects the cell
    near = nb101.neighbours("010,001,000|conv3x3")  # removing either chain edge disconnects it
    assert set(near) == {"011,001,000|conv3x3", "010,001,000|conv1x1", "010,001,000|maxpool3x3"}
    # removing 0 -> 1 from a diamond prunes vertex 1 away
    assert "010,001,000|conv3x3" in nb101.neighbours("0110,0001,0001,0000|conv1x1,conv3x3")


def _naslib_file(path, rows):
    path.write_text(HEADER + "\n" + "".join(f'"{a}",{acc},1,1,,,,,,,,,,,\n' for a, acc in rows))
    return path


def test_loaders_shipped_naslib_and_portable(tmp_path):
    gt = load_ground_truth("nb101")
    assert len(gt) == 301 and len(gt.index) == 301 and gt.source.endswith("nb101.csv.gz")
    assert gt.archs[0] in KNOWN and gt.accuracy[0] == pytest.approx(92.578125)
    f = _naslib_file(tmp_path / "zc.csv", [(ROW1[0], 92.5), (ROW447[0], 91.2)])
    gt = load_ground_truth("nb101", path=str(f))
    assert gt.archs == [nb101.parse_naslib(ROW1[0]), nb101.parse_naslib(ROW447[0])] and list(gt.accuracy) == [92.5, 91.2]
    table = tmp_path / "t.csv.gz"
    with gzip.open(table, "wt") as out:
        out.write('arch,accuracy\n"01,00|",83.5\n')  # ids hold commas: quoted in CSV
    assert load_ground_truth("nb101", path=str(table)).archs == ["01,00|"]


def test_loader_errors_name_the_file_and_row(tmp_path):
    bad = ROW1[0].replace("4, 1)", "7, 1)")  # op code 7 does not exist
    f = _naslib_file(tmp_path / "zc.csv", [(ROW1[0], 92.5), (bad, 91.0)])
    with pytest.raises(GroundTruthError, match=r"zc\.csv: data row 2: architecture .* is not a nb101 architecture "
                                               r"\(op codes must be 0\.\.4"):
        load_ground_truth("nb101", path=str(f))
    _naslib_file(f, [(ROW1[0], 90.0), ("(0, 1, 0, 0, 2, 1)", 80.0)])  # row 2: 2 x 2 + 2 numbers, no input op
    with pytest.raises(GroundTruthError, match=r"zc\.csv: data row 2: .*interior ops"):
        load_ground_truth("nb101", path=str(f))
    table = tmp_path / "t.csv"
    table.write_text('arch,accuracy\n"01,00|",83.5\n"0101,0001,0000,0000|conv3x3,maxpool3x3",90\n')
    with pytest.raises(GroundTruthError, match=r"t\.csv: data row 2: .*write it as '011,001,000\|conv3x3'"):
        load_ground_truth("nb101", path=str(table))
    with pytest.raises(GroundTruthError, match=r"not found: .*missing\.csv"):
        load_ground_truth("nb101", path=str(tmp_path / "missing.csv"))
    with pytest.raises(GroundTruthError, match="CIFAR-10 ground truth only"):
        nb101.load_naslib_csv(str(f), "cifar100")


SMALL = ["01,00|", "010000,001101,000001,000011,000001,000000|conv1x1,maxpool3x3,maxpool3x3,maxpool3x3",
         "010,001,000|conv1x1"]


def test_collect_and_score_three_networks(tmp_path, cli):
    import numpy as np

    from eznas.collection import collect_space, collection_config
    from eznas.parallel import score_items
    from stats_cache.store import StatsStore

    table = tmp_path / "three.csv"
    with open(table, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch", "accuracy"])
        w.writerows(zip(SMALL, [83.5, 85.5, 88.0]))
    gt = load_ground_truth("nb101", path=str(table))
    url = str(tmp_path / "s.zarr")
    with StatsStore(url, "a", config=collection_config("photos", 1, 0, "float32", "cbr", "sum")) as store:
        written, _, _ = collect_space(gt, store, [0, 1, 2], 0, "cpu", False)
    assert written == 3
    store = StatsStore(url, "r")
    attrs = store.attrs("nb101-cifar10", "n000000")
    assert attrs["arch"] == "01,00|" and attrs["params"] == pytest.approx(0.88257, abs=5e-7)
    groups = store.read_network("nb101-cifar10", "n000000").groups  # stem + 9 cell projections: 10 CBR layers
    assert sum(len(idx) for idx, _ in groups) == 10
    keys = [("nb101-cifar10", f"n{i:06d}") for i in range(3)]
    scores = score_items(url, ["layer_sum(l1_norm(T1G_D))", "layer_mean(frobenius_norm(T2_N))"], keys)
    assert scores.shape == (2, 3) and np.isfinite(scores).all()
    # the command line streams the same networks (a size proxy: no statistics needed)
    code, out, err = cli("score", "--space", "nb101", "--ground-truth", table, "--proxy", "params",
                         "--n", "3", "--out", tmp_path / "p.csv", "--quiet")
    assert code == 0 and "networks 3" in out, err
    rows = {r["arch"]: r for r in csv.DictReader(open(tmp_path / "p.csv"))}
    assert set(rows) == set(SMALL) and float(rows["01,00|"]["params"]) == pytest.approx(0.88257, abs=5e-7)
