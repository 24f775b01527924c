import torch

from eznas import parallel
from stats_cache.store import StatsStore


def test_cache_keeps_small_networks_and_skips_big_ones(synthetic_store, monkeypatch):
    parallel._CACHE.clear()
    parallel._CACHE_BYTES[0] = 0
    reads = []
    orig = StatsStore.read_network
    monkeypatch.setattr(StatsStore, "read_network", lambda self, s, k, kinds=None, **kw: (reads.append(kinds), orig(self, s, k, kinds, **kw))[1])
    g = parallel.read_groups(synthetic_store, "a", "n000000", ["T3"], cache_mb=64)
    again = parallel.read_groups(synthetic_store, "a", "n000000", ["T3", "T1_D"], cache_mb=64)
    assert reads == [None]  # read once, with all kinds, then served from the cache
    assert torch.equal(g[0][1]["T3"], again[0][1]["T3"]) and set(again[0][1]) == {"T3", "T1_D"}
    size = StatsStore(synthetic_store, "r").decoded_nbytes("a", "n000001")
    assert size == parallel._nbytes(StatsStore(synthetic_store, "r").read_network("a", "n000001").groups)
    reads.clear()
    tiny_mb = size / 2**20  # a quarter of this cache is smaller than the network
    parallel.read_groups(synthetic_store, "a", "n000001", ["T3"], cache_mb=tiny_mb)
    assert reads == [["T3"]]  # only the requested kind, read once
    assert all(key[2] != "n000001" for key in parallel._CACHE)
