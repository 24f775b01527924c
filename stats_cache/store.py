"""The zarr statistics store.

Layout (zarr v3; any local path or fsspec URL such as ``memory://x`` or ``s3://b/x``)::

    /                       attrs: schema_version
    /<space>                attrs: config, config_hash (how its networks were collected)
    /<space>/<net>          attrs: arch, accuracy, flops, params, seed, batch_size,
                                   layer_names, groups (layer indices per group), complete
    /<space>/<net>/g<j>_in  (6,  L_j, *T1 shape)     kinds schema.FAMILIES["in"]
    /<space>/<net>/g<j>_out (12, L_j, *T2 shape)     kinds schema.FAMILIES["out"]
    /<space>/<net>/g<j>_w   (4,  L_j, *weight shape) kinds schema.FAMILIES["w"]

Layers of identical shapes form a group and are stored stacked; each array is chunked one
kind at a time, so reading a subset of kinds reads only their chunks.

Contract: a network is listed only once ``complete`` is set, which happens after all of
its arrays are written; ``write_network`` on an incomplete network deletes it first, so an
interrupted collection resumes cleanly.  Opening a store of another schema version, or
writing to a space collected with another config, raises ``StoreError`` naming the store,
the space and the difference.
"""
import hashlib
import json
from dataclasses import dataclass

import numpy as np
import torch
import zarr
from zarr.codecs import ZstdCodec

from stats_cache.schema import FAMILIES, FAMILY_OF, POSITION, SCHEMA_VERSION


class StoreError(ValueError):
    """A statistics store cannot be used as asked."""


def config_hash(config):
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class NetworkStats:
    """One network's statistics: ``groups`` is a list of (layer indices, {kind: tensor of
    shape (L_group, *shape)}) holding only the kinds that were read."""
    key: str
    attrs: dict
    groups: list

    @property
    def n_layers(self):
        return sum(len(idx) for idx, _ in self.groups)


def net_key(index):
    return f"n{int(index):06d}"


class StatsStore:
    def __init__(self, url, mode="r", config=None, dtype="float32", level=3):
        """``mode`` 'r' (read) or 'a' (create or append).  ``config``: the collection
        config this writer uses; each space records the config it was collected with, and
        writing to a space collected with another config raises ``StoreError``."""
        self.url = str(url)
        if mode not in ("r", "a"):
            raise StoreError(f"mode must be 'r' or 'a', got {mode!r}")
        try:
            self.root = zarr.open_group(self.url, mode=mode)
        except FileNotFoundError:
            raise StoreError(f"no statistics store at {self.url}") from None
        except Exception as e:  # zarr raises its own error types for a missing group
            if mode == "r":
                raise StoreError(f"no statistics store at {self.url} ({type(e).__name__})") from None
            raise
        attrs = dict(self.root.attrs)
        if attrs and attrs.get("schema_version") != SCHEMA_VERSION:
            raise StoreError(f"{self.url}: schema version {attrs.get('schema_version')} but this engine reads {SCHEMA_VERSION}")
        if mode == "r" and not attrs:
            raise StoreError(f"{self.url}: not a statistics store (no schema_version)")
        if mode == "a" and not attrs:
            self.root.attrs.update({"schema_version": SCHEMA_VERSION})
        self.config = dict(config or {})
        self.dtype = self.config.get("dtype", dtype)
        self.level = level

    def space_config(self, space):
        return dict(self.root[space].attrs).get("config", {}) if space in self.root else {}

    def open_space(self, space):
        """Create ``space`` with this writer's config, or check that it was collected with it."""
        if not self.config:
            raise StoreError(f"{self.url}: a collection config is needed to write")
        if space in self.root:
            old = self.space_config(space)
            if old and old != self.config:
                diff = sorted(k for k in set(old) | set(self.config) if old.get(k) != self.config.get(k))
                raise StoreError(f"{self.url}: space {space!r} was collected with another config "
                                 f"(differs in {diff}); use another store or space name")
        g = self.root.require_group(space)
        if not g.attrs.get("config"):
            g.attrs.update({"config": self.config, "config_hash": config_hash(self.config)})
        return g

    # ---- listing ----------------------------------------------------------------
    def spaces(self):
        return sorted(self.root.group_keys())

    def networks(self, space):
        """Keys of the complete networks of ``space``."""
        if space not in self.root:
            return []
        g = self.root[space]
        return sorted(k for k in g.group_keys() if g[k].attrs.get("complete"))

    def is_complete(self, space, key):
        path = f"{space}/{key}"
        return path in self.root and bool(self.root[path].attrs.get("complete"))

    def attrs(self, space, key):
        return dict(self.root[f"{space}/{key}"].attrs)

    # ---- writing ----------------------------------------------------------------
    def write_network(self, space, key, stats, attrs):
        """Write one network's ``collect.LayerStats`` list, then mark it complete."""
        from stats_cache.collect import group_indices

        sg = self.open_space(space)
        if key in sg:
            del sg[key]
        g = sg.create_group(key)
        groups = group_indices(stats)
        nbytes = 0
        for j, idx in enumerate(groups):
            for fam, kinds in FAMILIES.items():
                # one pass: each layer's tensor is converted straight into the stored dtype
                # (by torch: numpy's float16 cast is many times slower)
                shape = tuple(stats[idx[0]].tensors[kinds[0]].shape)
                buf = torch.empty((len(kinds), len(idx)) + shape, dtype=getattr(torch, self.dtype))
                for a, k in enumerate(kinds):
                    for b, i in enumerate(idx):
                        buf[a, b] = stats[i].tensors[k]
                arr = buf.numpy()
                # one shard (file) per array, inner chunks of one kind each: few files, lazy per-kind reads
                z = g.create_array(f"g{j}_{fam}", shape=arr.shape, chunks=(1,) + arr.shape[1:], shards=arr.shape,
                                   dtype=self.dtype, compressors=[ZstdCodec(level=self.level)])
                z[...] = arr
                nbytes += arr.nbytes
        g.attrs.update({**attrs, "layer_names": [s.name for s in stats], "groups": groups,
                        "n_layers": len(stats), "complete": False})
        g.attrs["complete"] = True
        return nbytes

    # ---- reading ----------------------------------------------------------------
    def read_network(self, space, key, kinds=None, device="cpu"):
        """Read one complete network, only ``kinds`` (default: all 22), as float32 tensors."""
        path = f"{space}/{key}"
        if not self.is_complete(space, key):
            raise StoreError(f"{self.url}: network {path} is missing or incomplete")
        g = self.root[path]
        attrs = dict(g.attrs)
        kinds = tuple(kinds) if kinds is not None else tuple(FAMILY_OF)
        bad = [k for k in kinds if k not in FAMILY_OF]
        if bad:
            raise StoreError(f"unknown statistics kinds {bad}")
        by_fam = {}
        for k in kinds:
            by_fam.setdefault(FAMILY_OF[k], []).append(k)
        groups = []
        for j, idx in enumerate(attrs["groups"]):
            out = {}
            for fam, ks in by_fam.items():
                arr = g[f"g{j}_{fam}"]
                if 2 * len(ks) >= len(FAMILIES[fam]):  # most of the family: one read of the whole array
                    whole = np.asarray(arr[...], dtype=np.float32)
                    for k in ks:
                        out[k] = torch.from_numpy(whole[POSITION[k]]).to(device)
                else:
                    for k in ks:
                        out[k] = torch.from_numpy(np.asarray(arr[POSITION[k]], dtype=np.float32)).to(device)
            groups.append((idx, out))
        return NetworkStats(key, attrs, groups)

    def decoded_nbytes(self, space, key):
        """Bytes of a network's 22 kinds once read as float32, from array metadata only."""
        g = self.root[f"{space}/{key}"]
        return sum(4 * int(np.prod(g[name].shape)) for name in g.array_keys())

    def bytes_on_disk(self):
        """Bytes of stored chunks and metadata (local stores and fsspec stores)."""
        store = self.root.store

        async def total():
            n = 0
            async for k in store.list():
                n += await store.getsize(k)
            return n

        return zarr.core.sync.sync(total())
