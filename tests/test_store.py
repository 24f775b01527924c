import pytest
import zarr
import torch

from eznas.spaces.bench import build_bench_nb201
from eznas.collection import collect_space, collection_config
from eznas.spaces.benchmarks import GroundTruth
from stats_cache.collect import collect
from stats_cache.schema import KINDS
from stats_cache.store import StatsStore, StoreError

ARCHS = ["|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|",
         "|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|",
         "|avg_pool_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_1x1~0|none~1|skip_connect~2|"]


def stats():
    torch.manual_seed(0)
    return collect(build_bench_nb201(ARCHS[0]), torch.randn(1, 1, 8, 8), seed=0)


def _cfg(dtype):
    return collection_config("digits", 1, 0, dtype, "rcb", "sum")


@pytest.mark.parametrize("dtype,tol", [("float32", 0.0), ("float16", 1e-3)])
def test_round_trip(tmp_path, dtype, tol):
    st = stats()
    s = StatsStore(tmp_path / "s.zarr", "a", config=_cfg(dtype))
    s.write_network("sp", "n000000", st, {"arch": ARCHS[0], "accuracy": 90.0})
    r = StatsStore(tmp_path / "s.zarr", "r")
    assert r.networks("sp") == ["n000000"]
    ns = r.read_network("sp", "n000000")
    assert ns.n_layers == len(st) and ns.attrs["accuracy"] == 90.0
    seen = set()
    for idx, tensors in ns.groups:
        for pos, i in enumerate(idx):
            seen.add(i)
            for k in KINDS:
                a, b = tensors[k][pos], st[i].tensors[k]
                if tol == 0:
                    assert torch.equal(a, b)
                else:
                    assert torch.allclose(a, b, rtol=tol, atol=1e-4 * b.abs().max().item() + 1e-7)
    assert seen == set(range(len(st)))


def test_read_subset_of_kinds_and_fsspec_url():
    s = StatsStore("memory://eznas-test-store", "a", config=_cfg("float32"))
    st = stats()
    s.write_network("sp", "n000001", st, {})
    ns = StatsStore("memory://eznas-test-store", "r").read_network("sp", "n000001", kinds=["T3", "T1G_N"])
    for idx, t in ns.groups:
        assert set(t) == {"T3", "T1G_N"}
        assert torch.equal(t["T3"][0], st[idx[0]].tensors["T3"])
    with pytest.raises(StoreError):
        s.read_network("sp", "n000001", kinds=["T9"])


def test_incomplete_network_is_not_listed_and_is_rewritten(tmp_path):
    s = StatsStore(tmp_path / "s.zarr", "a", config=_cfg("float32"))
    s.write_network("sp", "n000002", stats(), {})
    s.root["sp/n000002"].attrs["complete"] = False  # as if interrupted before the mark
    assert s.networks("sp") == []
    with pytest.raises(StoreError, match="incomplete"):
        s.read_network("sp", "n000002")
    s.write_network("sp", "n000002", stats(), {})
    assert s.networks("sp") == ["n000002"]


def test_config_and_schema_mismatch_are_clear_errors(tmp_path):
    StatsStore(tmp_path / "s.zarr", "a", config=_cfg("float32")).write_network("sp", "n000000", stats(), {})
    other = StatsStore(tmp_path / "s.zarr", "a", config=_cfg("float16"))
    with pytest.raises(StoreError, match="'sp'.*dtype"):
        other.write_network("sp", "n000001", stats(), {})
    other.write_network("sp2", "n000000", stats(), {})  # another space may use another config
    assert StatsStore(tmp_path / "s.zarr", "r").space_config("sp2")["dtype"] == "float16"
    s = StatsStore(tmp_path / "s.zarr", "a")
    s.root.attrs["schema_version"] = 999
    with pytest.raises(StoreError, match="schema version"):
        StatsStore(tmp_path / "s.zarr", "r")
    with pytest.raises(StoreError, match="no statistics store|not a statistics store"):
        StatsStore(tmp_path / "missing.zarr", "r")


def test_resume_writes_nothing_twice(tmp_path, monkeypatch):
    gt = GroundTruth("bench_nb201", "digits", ARCHS, torch.tensor([80.0, 85.0, 90.0]).numpy())
    store = StatsStore(tmp_path / "s.zarr", "a", config=_cfg("float16"))
    n, _, _ = collect_space(gt, store, [0, 1], progress=False)
    assert n == 2
    writes = []
    orig = StatsStore.write_network
    monkeypatch.setattr(StatsStore, "write_network", lambda self, sp, key, *a: (writes.append(key), orig(self, sp, key, *a))[1])
    n, _, _ = collect_space(gt, StatsStore(tmp_path / "s.zarr", "a", config=_cfg("float16")), [0, 1, 2], progress=False)
    assert n == 1 and writes == ["n000002"]
    assert StatsStore(tmp_path / "s.zarr", "r").networks("bench_nb201-digits") == ["n000000", "n000001", "n000002"]


def test_round_mantissa_hand_values():
    from stats_cache.store import round_mantissa

    x = torch.tensor([1 + 2 ** -10, 1.75, 1.25, -1.75, 2.0 ** -100 * (1 + 2 ** -20), 0.0, float("nan"), float("inf"),
                      torch.finfo(torch.float32).max])
    r = round_mantissa(x, 1)
    # 1 mantissa bit: representable 1, 1.5, 2; ties go to the even mantissa (1.75 -> 2, 1.25 -> 1)
    assert r[:4].tolist() == [1.0, 2.0, 1.0, -2.0]
    assert r[5] == 0 and torch.isnan(r[6]) and r[7] == float("inf")
    assert r[8] == x[8]  # would round past the largest float32: kept
    torch.testing.assert_close(round_mantissa(x, 23), x, rtol=0, atol=0, equal_nan=True)
    r7 = round_mantissa(x, 7)
    assert r7[0] == 1.0 and r7[4] == 2.0 ** -100  # float32's range: no underflow as in float16
    assert torch.equal(x[:1], torch.tensor([1 + 2 ** -10]))  # input untouched


def test_keep_bits_store_round_trip_within_bound(tmp_path):
    st = stats()
    cfg = collection_config("digits", 1, 0, "float32", "rcb", "sum", keep_bits=7)
    StatsStore(tmp_path / "s.zarr", "a", config=cfg).write_network("sp", "n000000", st, {})
    full = StatsStore(tmp_path / "f.zarr", "a", config=_cfg("float32"))
    full.write_network("sp", "n000000", st, {})
    rounded = StatsStore(tmp_path / "s.zarr", "r")
    assert 0 < rounded.bytes_on_disk() < 0.8 * full.bytes_on_disk() < full.decoded_nbytes("sp", "n000000")
    ns = rounded.read_network("sp", "n000000")
    for idx, tensors in ns.groups:
        for pos, i in enumerate(idx):
            for k in KINDS:
                a, b = tensors[k][pos], st[i].tensors[k]
                assert torch.all((a - b).abs() <= b.abs() * 2 ** -8)  # half a unit in the 7th bit
                assert torch.equal(a == 0, b == 0)
    with pytest.raises(StoreError, match="keep_bits"):
        StatsStore(tmp_path / "t.zarr", "a", config=collection_config("digits", 1, 0, "float16", "rcb", "sum", 7))


def test_builtin_cache_of_an_older_schema_is_set_aside_not_deleted(tmp_path):
    from eznas.evolve.builtin import ensure_builtin_store

    url = str(tmp_path / "builtin.zarr")
    old = StatsStore(url, "a", config=_cfg("float32"))
    old.write_network("sp", "n000000", stats(), {})
    old.root.attrs["schema_version"] = 1
    keys = ensure_builtin_store(url, 2, progress=False)
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("builtin.zarr.old-")]
    assert len(kept) == 1 and StatsStore(url, "r").networks(keys[0])
    assert zarr.open_group(str(kept[0]), mode="r").attrs["schema_version"] == 1
