import torch

from eznas import parallel
from stats_cache.store import StatsStore


def test_cache_reads_each_kind_once_and_skips_networks_too_big(synthetic_store, monkeypatch):
    parallel.WORKER_CACHE.clear()
    reads = []
    orig = StatsStore.read_network
    monkeypatch.setattr(StatsStore, "read_network", lambda self, s, k, kinds=None, **kw: (reads.append(kinds), orig(self, s, k, kinds, **kw))[1])
    g = parallel.read_groups(synthetic_store, "a", "n000000", ["T3"], cache_mb=64)
    again = parallel.read_groups(synthetic_store, "a", "n000000", ["T3", "T1_D"], cache_mb=64)
    third = parallel.read_groups(synthetic_store, "a", "n000000", ["T1_D"], cache_mb=64)
    assert reads == [["T3"], ["T1_D"]]  # each kind read once, then served from the cache
    assert torch.equal(g[0][1]["T3"], again[0][1]["T3"]) and set(again[0][1]) == {"T3", "T1_D"}
    assert torch.equal(third[0][1]["T1_D"], orig(StatsStore(synthetic_store, "r"), "a", "n000000").groups[0][1]["T1_D"])
    kept = parallel.WORKER_CACHE.nbytes
    assert kept == parallel._nbytes(again)  # only the kinds read are held
    reads.clear()
    tiny_mb = kept / 2**20  # a quarter of this cache is smaller than the kinds asked
    parallel.read_groups(synthetic_store, "a", "n000001", ["T3", "T1_D"], cache_mb=tiny_mb)
    parallel.read_groups(synthetic_store, "a", "n000001", ["T3", "T1_D"], cache_mb=tiny_mb)
    assert reads == [["T3", "T1_D"]] * 2  # not kept: read again
    assert all(key[2] != "n000001" for key in parallel.WORKER_CACHE.entries)
