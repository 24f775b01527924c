import numpy as np
import pytest
import torch

from stats_cache.collect import LayerStats
from stats_cache.schema import KINDS
from stats_cache.store import StatsStore

SHAPES = {"in": (1, 2, 3, 3), "out": (1, 3, 3, 3), "w": (3, 2, 3, 3)}


def fake_layers(rng, acc, n_layers=3):
    """Random statistics whose T3 mean is the accuracy (a known answer for programs)."""
    layers = []
    for i in range(n_layers):
        t = {}
        for k in KINDS:
            fam = "w" if k.startswith("T3") else ("in" if k.startswith("T1") else "out")
            t[k] = torch.tensor(rng.standard_normal(SHAPES[fam]), dtype=torch.float32)
        t["T3"] = t["T3"] - t["T3"].mean() + acc
        layers.append(LayerStats(f"layer{i}", t))
    return layers


def make_store(url, spaces=("a", "b"), n=20, seed=0, first=0):
    """A synthetic store of ``n`` networks per space (architectures ``<space><first + j>``)."""
    rng = np.random.default_rng(seed)
    store = StatsStore(url, "a", config={"synthetic": True, "dtype": "float32"})
    for s in spaces:
        for j in range(n):
            acc = float(rng.uniform(50, 95))
            store.write_network(s, f"n{j:06d}", fake_layers(rng, acc, 2 + j % 3), {"accuracy": acc, "arch": f"{s}{first + j}"})
    return store


@pytest.fixture
def synthetic_store(tmp_path):
    url = str(tmp_path / "syn.zarr")
    make_store(url)
    return url


@pytest.fixture
def cli(capsys):
    """Run the ``eznas`` command in this process: returns (exit code, stdout, stderr)."""
    from eznas.cli import run

    def call(*args):
        code = run([str(a) for a in args])
        cap = capsys.readouterr()
        return code, cap.out, cap.err

    return call
