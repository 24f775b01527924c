"""A damaged or shared store is an error naming the file, never wrong numbers; one writer
at a time; ``verify`` finds the damage and a collection with --verify repairs it."""
import os
import subprocess
import sys

import pytest
import torch

from eznas.spaces.bench import build_bench_nb201
from eznas.collection import collection_config
from stats_cache.collect import collect
from stats_cache.store import DamagedError, StatsStore, StoreLockedError

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"


@pytest.fixture
def store(tmp_path):
    torch.manual_seed(0)
    st = collect(build_bench_nb201(ARCH), torch.randn(1, 1, 8, 8), seed=0)
    url = str(tmp_path / "s.zarr")
    with StatsStore(url, "a", config=collection_config("digits", 1, 0, "float32", "rcb", "sum")) as s:
        for k in ("n000000", "n000001"):
            s.write_network("sp", k, st, {"arch": ARCH, "accuracy": 1.0})
    return url


def shard(url, net="n000000", fam="out"):
    return os.path.join(url, "sp", net, fam, "c", "0", "0")


def damage_flip(p):
    with open(p, "r+b") as f:
        f.seek(os.path.getsize(p) // 3)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0xFF]))


def damage_truncate(p):
    with open(p, "r+b") as f:
        f.truncate(os.path.getsize(p) // 2)


DAMAGE = {
    "chunk deleted": lambda url: os.remove(shard(url)),
    "bytes flipped": lambda url: damage_flip(shard(url)),
    "shard truncated": lambda url: damage_truncate(shard(url)),
    "array metadata deleted": lambda url: os.remove(os.path.join(url, "sp", "n000000", "out", "zarr.json")),
}


@pytest.mark.parametrize("how", list(DAMAGE))
def test_damaged_network_is_an_error_naming_the_file(store, how):
    DAMAGE[how](store)
    r = StatsStore(store, "r")
    with pytest.raises(DamagedError, match=r"s\.zarr/sp/n000000/out: .*--verify"):
        r.read_network("sp", "n000000")
    r.read_network("sp", "n000001")  # the undamaged network still reads
    assert list(r.verify("sp")) == ["n000000"]


def test_reading_only_an_undamaged_kind_still_works(store):
    os.remove(shard(store, fam="w"))
    r = StatsStore(store, "r")
    r.read_network("sp", "n000000", kinds=["T2_D"])  # family "out" only
    with pytest.raises(DamagedError, match="n000000/w"):
        r.read_network("sp", "n000000", kinds=["T3"])


def test_network_whose_metadata_is_gone_is_reported_not_dropped(store):
    os.remove(os.path.join(store, "sp", "n000001", "zarr.json"))
    r = StatsStore(store, "r")
    with pytest.raises(DamagedError, match=r"sp: 1 networks have no readable zarr\.json \(n000001\)"):
        r.networks("sp")
    assert r.verify("sp") == {"n000001": "network metadata (zarr.json) missing"}
    with StatsStore(store, "a", config=collection_config("digits", 1, 0, "float32", "rcb", "sum")) as w:
        w.drop("sp", "n000001")
    assert StatsStore(store, "r").networks("sp") == ["n000000"]


def test_truncated_network_metadata_is_damage_and_a_rerun_rewrites_it(store):
    meta = os.path.join(store, "sp", "n000001", "zarr.json")
    with open(meta, "r+b") as f:  # a kill in the middle of the completion record's write
        f.truncate(os.path.getsize(meta) // 3)
    r = StatsStore(store, "r")
    with pytest.raises(DamagedError, match=r"n000001"):
        r.networks("sp")
    with pytest.raises(DamagedError, match=r"n000001/zarr.json: network metadata unreadable"):
        r.read_network("sp", "n000001")
    assert not r.is_complete("sp", "n000001")  # so a collection writes it again
    assert r.verify("sp") == {"n000001": "network metadata (zarr.json) unreadable (JSONDecodeError)"}


def test_second_writer_is_refused_until_the_first_closes(store):
    cfg = collection_config("digits", 1, 0, "float32", "rcb", "sum")
    code = ("import sys; from stats_cache.store import StatsStore, StoreLockedError\n"
            f"try: StatsStore({store!r}, 'a', config={cfg!r})\n"
            "except StoreLockedError as e: print('LOCKED', e); sys.exit(3)\n")
    w = StatsStore(store, "a", config=cfg)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 3 and "another process is writing" in r.stdout and "s.zarr.lock" in r.stdout
    StatsStore(store, "r").networks("sp")  # readers are never blocked
    w.close()
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_lock_is_released_when_the_writer_is_killed(store):
    cfg = collection_config("digits", 1, 0, "float32", "rcb", "sum")
    p = subprocess.Popen([sys.executable, "-c", "import time; from stats_cache.store import StatsStore; "
                          f"s = StatsStore({store!r}, 'a', config={cfg!r}); print('held', flush=True); time.sleep(60)"],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    with pytest.raises(StoreLockedError):
        StatsStore(store, "a", config=cfg)
    p.kill()
    p.wait()
    StatsStore(store, "a", config=cfg).close()
