import csv
import os

import pytest

from eznas.bench import train as T
from eznas.bench.build import COLUMNS, sample_archs, train_many
from eznas.spaces.registry import names
from eznas.spaces.sources import PACKAGE_DATA, load_ground_truth


def test_tiny_build_end_to_end_and_resume(tmp_path, monkeypatch):
    from eznas.spaces.bench import RECIPES

    for recipe in RECIPES.values():  # the records hold these dicts
        monkeypatch.setitem(recipe, "epochs", 1)
    out = str(tmp_path / "t.csv")
    archs = sample_archs("bench_nb201", 3, seed=5)
    assert train_many("bench_nb201", archs[:2], 0, out) == 2
    assert train_many("bench_nb201", archs, 0, out) == 1  # resumes: only the missing one
    rows = list(csv.DictReader(open(out)))
    assert [r["arch"] for r in rows] == archs and list(rows[0]) == COLUMNS
    assert all(0 <= float(r["accuracy"]) <= 100 and float(r["params"]) > 0 for r in rows)
    gt = load_ground_truth("bench_nb201", path=out)
    assert len(gt) == 3 and gt.build(0) is not None
    sss = sample_archs("bench_sss", 2, seed=1)
    assert train_many("bench_sss", sss, 0, str(tmp_path / "s.csv")) == 2
    noisy = str(tmp_path / "n.csv")
    assert train_many("bench_nb201_noisy", archs[:1], 0, noisy) == 1
    clean = float(rows[0]["accuracy"])
    assert float(next(csv.DictReader(open(noisy)))["accuracy"]) != clean  # another task, another result


def test_disconnected_cell_scores_chance():
    # no path from input to output: the network cannot learn, accuracy stays near 10 %
    from eznas.bench.data import load_digits_tensors
    from eznas.spaces.bench import build_bench_nb201

    arch = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    acc, _ = T.train_and_test(lambda: build_bench_nb201(arch), load_digits_tensors(), 0, epochs=1)
    assert acc < 20


COMMITTED = {"bench_nb201": 1000, "bench_nb201_noisy": 331, "bench_sss": 1000,
             "bench_sss_noisy": 1000}  # networks in the committed tables


def test_committed_spaces_are_builtin():
    assert set(COMMITTED) <= set(names(builtin=True))


@pytest.mark.parametrize("space", COMMITTED)
def test_committed_tables(space):
    path = os.path.join(PACKAGE_DATA, f"{space}.csv")
    rows = list(csv.DictReader(open(path)))
    assert list(rows[0]) == COLUMNS
    assert len(rows) == COMMITTED[space] and len({r["arch"] for r in rows}) == len(rows)
    acc = [float(r["accuracy"]) for r in rows]
    assert min(acc) >= 0 and max(acc) <= 100 and max(acc) > 50
    again = os.path.join(PACKAGE_DATA, f"{space}_seed1.csv")
    assert len(list(csv.DictReader(open(again)))) >= 100


@pytest.mark.parametrize("space", ["bench_sss", "bench_sss_noisy"])
def test_width_spaces_meet_the_noise_bar(space):
    # seed-to-seed Kendall tau of the committed retraining, as `python -m eznas.bench report` prints it
    from eznas.bench.report import report

    row = next(line for line in report().splitlines() if line.startswith(f"| {space} |"))
    tau, n = row.split("|")[3].split()
    assert n == "(100)" and float(tau) >= 0.6
