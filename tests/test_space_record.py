"""A search space is one record: registering a new one (as a new module in eznas/spaces
would) is enough to collect, score and search on it from the command line."""
import csv

import pytest
import torch.nn as nn

from eznas.spaces import registry
from eznas.spaces.benchmarks import load_table
from eznas.spaces.init import eznas_init
from eznas.spaces.space import SearchSpace

WIDTHS = (4, 8, 12, 16)


def build_toy(arch, num_classes=10, in_channels=1):
    a, b = (int(w) for w in arch.split("-"))
    net = nn.Sequential(nn.Conv2d(in_channels, a, 3, padding=1), nn.BatchNorm2d(a), nn.ReLU(),
                        nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(b, num_classes))
    return eznas_init(net)


def check_toy(arch):
    parts = arch.split("-")
    if len(parts) != 2 or any(int(p) not in WIDTHS for p in parts):
        raise ValueError(f"toy architectures are W-W with widths in {WIDTHS}")


@pytest.fixture
def toy_space(tmp_path, monkeypatch):
    table = tmp_path / "toy.csv"
    archs = [f"{a}-{b}" for a in WIDTHS for b in WIDTHS]
    with open(table, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch", "accuracy"])
        for k, arch in enumerate(archs):
            w.writerow([arch, 50 + k])
    space = SearchSpace(name="toy", description="two conv layers of widths 4..16", build=build_toy, check=check_toy,
                        datasets=("digits",), ground_truth=lambda dataset, path=None: load_table(path or str(table), "toy", dataset),
                        channels=1, input_size=lambda dataset: 8, default_data="digits", size=len(archs),
                        arch_of=archs.__getitem__)
    registry.get("nb201")  # load the package's spaces first
    monkeypatch.setitem(registry._SPACES, "toy", space)
    return space


def test_a_registered_space_works_end_to_end(tmp_path, cli, toy_space):
    store = tmp_path / "s.zarr"
    code, _, err = cli("collect", "--space", "toy", "--n", "12", "--store", store, "--quiet")
    assert code == 0, err
    code, out, err = cli("score", "--space", "toy", "--proxy", "params", "--n", "16", "--out", tmp_path / "p.csv", "--quiet")
    assert code == 0 and "networks 16" in out, err
    assert registry.get("toy").sample(3, seed=0) == registry.get("toy").sample(3, seed=0)
    code, _, err = cli("collect", "--space", "toy", "--ground-truth", tmp_path / "p.csv", "--store", tmp_path / "x.zarr")
    assert code == 0  # the score CSV is a portable table too (arch, accuracy)
    bad = tmp_path / "bad.csv"
    bad.write_text("arch,accuracy\n4-5,60\n")
    code, _, err = cli("collect", "--space", "toy", "--ground-truth", bad, "--store", tmp_path / "y.zarr")
    assert code == 2 and "bad.csv: data row 1: architecture '4-5' is not a toy architecture" in err


def test_every_registered_space_is_complete():
    for name in registry.names():
        sp = registry.get(name)
        assert sp.datasets and callable(sp.build) and callable(sp.check) and callable(sp.ground_truth)
        c, size = sp.input_shape(sp.datasets[0])
        assert c in (1, 3) and size in (8, 16, 32, 64, 128)
        if sp.arch_of:
            arch = sp.sample(1, seed=0)[0]
            sp.check(arch)
            assert sp.build(arch, in_channels=c) is not None
    assert set(registry.names(builtin=True)) == {"bench_nb201", "bench_nb201_noisy", "bench_sss", "bench_sss_noisy"}
    with pytest.raises(ValueError, match="unknown search space 'nope'; known: "):
        registry.get("nope")
