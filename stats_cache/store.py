"""The zarr statistics store.

Layout (zarr v3; any local path or fsspec URL such as ``memory://x`` or ``s3://b/x``)::

    /                       attrs: schema_version, uuid (the store's identity, made at creation)
    /<space>                attrs: config, config_hash (how its networks were collected)
    /<space>/<net>          attrs: arch, accuracy, flops, params, seed, batch_size,
                                   layer_names, groups (layer indices per group),
                                   shapes ({family: per-layer shape of each group}), complete
    /<space>/<net>/in       (6,  n_in)   kinds schema.FAMILIES["in"]  (T1 shapes)
    /<space>/<net>/out      (12, n_out)  kinds schema.FAMILIES["out"] (T2 / T4 shapes)
    /<space>/<net>/w        (4,  n_w)    kinds schema.FAMILIES["w"]   (conv weight shapes)

Layers of identical shapes form a group; row k of a family array holds kind k of every
group, flattened and concatenated in group order (group j = L_j layers stacked).  Each
array is one shard (one file) with one chunk per kind, so a network is three files and
reading a subset of kinds reads only their chunks.  Optional lossy storage: float16, or
float32 with the mantissa rounded to ``keep_bits`` bits (float32's range is kept, so
small gradients do not underflow as they do in float16).

Contract: a network is listed only once ``complete`` is set, which happens after all of
its arrays are written; ``write_network`` on an incomplete network deletes it first, so an
interrupted collection resumes cleanly.  Opening a store of another schema version, or
writing to a space collected with another config, raises ``StoreError`` naming the store,
the space and the difference.

Integrity: a network's completion record lists its arrays and a CRC-32 of every stored
row (one chunk per kind), and every read checks them, so a missing chunk (which zarr
would read as zeros), flipped bytes, a missing array or a truncated shard is a
``DamagedError`` naming the file, never wrong numbers; a network directory whose metadata
is gone is reported by ``networks`` instead of silently dropped.  ``verify`` lists the
damaged networks and ``drop`` removes them so that a collection recollects them.

One writer: a local store opened with mode 'a' holds ``<store>.lock`` beside its real path
(``stats_cache.locks``: the same lock through a symlink or any spelling of the path) until
``close`` (or the process ends); a second writer gets ``StoreLockedError`` at once, naming
the holder's pid and host.  Remote (fsspec) stores have no lock: run one collection per
store there.

Identity: a store records a random ``uuid`` when it is created; ``identity(spaces)`` is that
uuid with a digest of the (space, network key, architecture) of every complete network of
``spaces``, which a run records so that a resume, or ``eznas score --exclude RUN``, can refuse
another store found at the same path (``identity_difference``).  A store made before
identities has no uuid and is known by its digest alone.
"""
import hashlib
import json
import os
import uuid
import warnings
import zlib
from dataclasses import dataclass

import numpy as np
import torch
import zarr
from zarr.codecs import BloscCodec, ZstdCodec

from stats_cache.locks import LockedError, hold, is_local, local_path
from stats_cache.schema import FAMILIES, FAMILY_OF, POSITION, SCHEMA_CHANGES, SCHEMA_VERSION


class StoreError(ValueError):
    """A statistics store cannot be used as asked."""


class SchemaError(StoreError):
    """A store written with another schema version."""


REPAIR = "run the same collect command with --verify to recollect damaged networks"


class DamagedError(StoreError):
    """A network's stored arrays do not match its completion record: ``where`` (the file)
    and ``reason``, followed by how to repair it."""

    def __init__(self, where, reason):
        super().__init__(f"{where}: {reason}; {REPAIR}")
        self.reason = reason


class StoreLockedError(StoreError, LockedError):
    """Another process is writing to the store."""


def row_checksums(arr):
    """CRC-32 of each row of a stored (kinds, n) array, in its stored dtype."""
    return [zlib.crc32(np.ascontiguousarray(r)) for r in arr]


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


def absolute_url(url):
    """``url`` with a local path made absolute (from the working directory), fsspec URLs as
    they are: what a run records, so that it reads the same store from anywhere."""
    url = str(url)
    if not is_local(url):
        return url
    path = os.path.abspath(local_path(url))
    return "file://" + path if url.startswith("file://") else path


def identity_difference(then, now):
    """What differs between the identity a run recorded (``then``) and the one found
    (``now``), both from ``StatsStore.identity``, in words; '' when they agree."""
    out = []
    then = then if isinstance(then, dict) else {}
    if then.get("uuid") and then["uuid"] != now.get("uuid"):
        out.append(f"store uuid {then['uuid']} recorded, {now.get('uuid') or 'none (a store made before uuids)'} found")
    if then.get("digest") != now.get("digest"):
        a, b = then.get("networks"), now.get("networks") or {}
        a = a if isinstance(a, dict) else {}
        counts = [f"space {s!r}: {a.get(s, 0)} networks recorded, {b.get(s, 0)} found" for s in sorted(set(a) | set(b))
                  if a.get(s, 0) != b.get(s, 0)]
        out.append("its networks differ (" + ("; ".join(counts) if counts else
                                              "as many, but other network keys or architectures") + ")")
    return "; ".join(out)


def other_store(then, now):
    """Why the store found (identity ``now``) is not the one a run recorded (``then``),
    naming both paths; '' when it is the same store."""
    diff = identity_difference(then, now)
    if not diff:
        return ""
    was = (then.get("url") if isinstance(then, dict) else None) or "?"
    here = "the store there now" if was == now["url"] else f"the store it reads now, {now['url']},"
    return f"the run searched the store {was}, and {here} is another store: {diff}"


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
            raise StoreError(f"{self.url}: cannot open the store ({type(e).__name__}: {e})") from None
        try:
            attrs = dict(self.root.attrs)
        except Exception as e:
            raise StoreError(f"{self.url}/zarr.json: store metadata unreadable ({type(e).__name__}: {e})") from None
        if attrs and attrs.get("schema_version") != SCHEMA_VERSION:
            got = attrs.get("schema_version")
            what = "; ".join(f"schema {v}: {SCHEMA_CHANGES[v]}" for v in sorted(SCHEMA_CHANGES)
                             if not isinstance(got, int) or v > got)
            raise SchemaError(f"{self.url}: schema version {got} but this engine reads {SCHEMA_VERSION} "
                              f"(changed since: {what}); collect the statistics again into a new store")
        if mode == "r" and not attrs:
            raise StoreError(f"{self.url}: not a statistics store (no schema_version)")
        self.mode = mode
        self._lock = None
        if mode == "a":
            self._lock = self._acquire_lock()
        if mode == "a" and not attrs:
            attrs = {"schema_version": SCHEMA_VERSION, "uuid": str(uuid.uuid4())}  # the store's identity
            self.root.attrs.update(attrs)
        self.uuid = attrs.get("uuid")  # None for a store made before uuids
        self.config = dict(config or {})
        self.dtype = self.config.get("dtype", dtype)
        self.keep_bits = self.config.get("keep_bits")
        if self.keep_bits is not None and (self.dtype != "float32" or not 1 <= int(self.keep_bits) <= 23):
            raise StoreError(f"{self.url}: keep_bits needs dtype float32 and 1..23 bits, got {self.keep_bits!r} with {self.dtype}")
        self.level = level
        self._warned_unchecked = False

    def _acquire_lock(self):
        # keyed on the real path: a second writer through a symlink is refused too
        return hold(self.url, "another process is writing to this store", error=StoreLockedError)

    def close(self):
        """Release the writer's lock (also released when the process ends)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

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

    def identity(self, spaces=None, attrs=None):
        """What this store is, for a run to record and check: {"url": its absolute URL,
        "uuid": made at creation (None for an older store), "spaces": ``spaces`` (default:
        all), "networks": {space: complete networks}, "digest": of the sorted (space, key,
        architecture) of those networks}.  ``attrs``: {space: ``network_attrs(space)``}
        when read already."""
        spaces = sorted(spaces) if spaces else self.spaces()
        attrs = attrs or {}
        rows, counts = [], {}
        for s in spaces:
            nets = attrs[s] if s in attrs else self.network_attrs(s)
            counts[s] = len(nets)
            rows += [[s, k, str(a.get("arch"))] for k, a in nets.items()]
        digest = hashlib.sha256(json.dumps(sorted(rows)).encode()).hexdigest()[:16]
        return {"url": absolute_url(self.url), "uuid": self.uuid, "spaces": spaces, "networks": counts, "digest": digest}

    # ---- listing ----------------------------------------------------------------
    def spaces(self):
        return sorted(self.root.group_keys())

    def networks(self, space):
        """Keys of the complete networks of ``space``.  Raises ``DamagedError`` when a
        network's metadata is gone or unreadable (it would otherwise vanish silently)."""
        return sorted(self.network_attrs(space))

    def network_attrs(self, space):
        """{key: attrs} of the complete networks of ``space``, from one reading of their
        metadata; ``DamagedError`` as ``networks``."""
        if space not in self.root:
            return {}
        complete, damaged = self._scan(space)
        if damaged:
            lost = sorted(damaged)
            raise DamagedError(f"{self.url}/{space}", f"{len(lost)} networks have no readable zarr.json "
                               f"({', '.join(lost[:5])}{' ...' if len(lost) > 5 else ''})")
        return complete

    def _scan(self, space):
        """({complete network key: attrs}, {damaged key: why}) of ``space``: every directory
        under it is opened; one whose metadata is missing or unreadable is damaged."""
        store = self.root.store

        async def ls():
            return [k async for k in store.list_dir(self._key(space))]

        complete, damaged = {}, {}
        for k in sorted({k.rstrip("/") for k in zarr.core.sync.sync(ls())} - {"zarr.json"}):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    attrs = dict(self.root[f"{space}/{k}"].attrs)
            except KeyError:
                damaged[k] = "network metadata (zarr.json) missing"
                continue
            except Exception as e:  # truncated / garbled JSON: zarr and json raise many types
                damaged[k] = f"network metadata (zarr.json) unreadable ({type(e).__name__})"
                continue
            if attrs.get("complete"):
                complete[k] = attrs
        return complete, damaged

    def is_complete(self, space, key):
        """True for a complete network; False when absent, incomplete or with unreadable
        metadata (a collection then writes it again)."""
        path = f"{space}/{key}"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return path in self.root and bool(self.root[path].attrs.get("complete"))
        except Exception:  # unreadable metadata, e.g. a write cut short by a kill
            return False

    def attrs(self, space, key):
        return dict(self._group(space, key).attrs)

    def _group(self, space, key):
        path = f"{space}/{key}"
        try:
            return self.root[path]
        except Exception as e:
            raise DamagedError(f"{self.url}/{path}/zarr.json", f"network metadata unreadable ({type(e).__name__}: {e})") from None

    # ---- writing ----------------------------------------------------------------
    def write_network(self, space, key, stats, attrs):
        """Write one network's ``collect.LayerStats`` list, then mark it complete.  Returns
        the bytes of the arrays before compression."""
        from stats_cache.collect import group_indices

        sg = self.open_space(space)
        self._delete(space, key)
        g = sg.create_group(key)
        groups = group_indices(stats)
        shapes = {fam: [list(stats[idx[0]].tensors[kinds[0]].shape) for idx in groups] for fam, kinds in FAMILIES.items()}
        nbytes, checksums = 0, {}
        for fam, kinds in FAMILIES.items():
            total = int(group_bounds(groups, shapes[fam])[-1])
            if total == 0:
                continue
            # one pass: each layer's tensor is converted straight into the stored dtype
            # (by torch: numpy's float16 cast is many times slower)
            buf = torch.empty((len(kinds), total), dtype=getattr(torch, self.dtype))
            for a, k in enumerate(kinds):
                pos = 0
                for idx in groups:
                    for i in idx:
                        t = stats[i].tensors[k]
                        buf[a, pos:pos + t.numel()] = t.reshape(-1)
                        pos += t.numel()
            if self.keep_bits is not None:
                buf = round_mantissa(buf, int(self.keep_bits))
            arr = buf.numpy()
            z = g.create_array(fam, shape=arr.shape, chunks=(1, total), shards=arr.shape,
                               dtype=self.dtype, compressors=[self.codec(arr.itemsize)])
            z[...] = arr
            nbytes += arr.nbytes
            checksums[fam] = row_checksums(arr)
        g.attrs.update({**attrs, "layer_names": [s.name for s in stats], "groups": groups, "shapes": shapes,
                        "n_layers": len(stats), "checksums": checksums, "complete": False})
        g.attrs["complete"] = True
        return nbytes

    def codec(self, itemsize):
        """zstd; with rounded mantissas, behind a byte shuffle (bytes of equal significance
        together), which then compresses 16 % better and faster (on full float32 or float16
        mantissas the shuffle does worse than zstd alone)."""
        if self.keep_bits is None:
            return ZstdCodec(level=self.level, checksum=True)
        return BloscCodec(cname="zstd", clevel=self.level, shuffle="shuffle", typesize=itemsize)

    # ---- reading ----------------------------------------------------------------
    def read_network(self, space, key, kinds=None, device="cpu"):
        """Read one complete network, only ``kinds`` (default: all 22), as float32 tensors."""
        path = f"{space}/{key}"
        g = self._group(space, key)
        if not g.attrs.get("complete"):
            raise StoreError(f"{self.url}: network {path} is incomplete")
        attrs = dict(g.attrs)
        kinds = tuple(kinds) if kinds is not None else tuple(FAMILY_OF)
        bad = [k for k in kinds if k not in FAMILY_OF]
        if bad:
            raise StoreError(f"unknown statistics kinds {bad}")
        by_fam = {}
        for k in kinds:
            by_fam.setdefault(FAMILY_OF[k], []).append(k)
        groups = [(idx, {}) for idx in attrs["groups"]]
        sums = attrs.get("checksums")
        if sums is None and not self._warned_unchecked:
            self._warned_unchecked = True
            warnings.warn(f"{self.url}: networks written before checksums were recorded (e.g. {path}); "
                          "damage to them cannot be detected", stacklevel=2)
        for fam, ks in by_fam.items():
            if not groups:
                break
            shapes = attrs["shapes"][fam]
            bounds = group_bounds(attrs["groups"], shapes)
            # float16 -> float32 by torch: numpy's cast is about 14x slower
            if 2 * len(ks) >= len(FAMILIES[fam]):  # most of the family: one read of the whole array
                whole = self._rows(g, path, fam, None, sums)
                rows = {k: whole[POSITION[k]] for k in ks}
            else:
                rows = {k: self._rows(g, path, fam, POSITION[k], sums) for k in ks}
            for k, row in rows.items():
                for j, (idx, out) in enumerate(groups):
                    out[k] = row[bounds[j]:bounds[j + 1]].reshape([len(idx)] + list(shapes[j])).to(device)
        return NetworkStats(key, attrs, groups)

    def _rows(self, g, path, fam, row, sums):
        """Family ``fam`` of network ``path`` (all rows, or one), checked against the
        completion record, as a float32 tensor."""
        where = f"{self.url}/{path}/{fam}"
        try:
            arr = g[fam]
        except KeyError:
            raise DamagedError(where, "array missing from a network marked complete") from None
        try:
            data = np.ascontiguousarray(arr[...] if row is None else arr[row])
        except Exception as e:  # a truncated or garbled shard: zarr / codec errors of many types
            raise DamagedError(where, f"unreadable ({type(e).__name__}: {e})") from None
        if sums is not None:
            want = sums.get(fam)
            if want is not None and row is not None:
                want = want[row:row + 1]
            if want is None or row_checksums(data if row is None else data[None]) != want:
                raise DamagedError(where, "checksum mismatch (stored data changed or a chunk is missing)")
        return torch.from_numpy(data).to(torch.float32)

    # ---- repair -----------------------------------------------------------------
    def verify(self, space, progress=False):
        """{network key: reason} for every damaged network of ``space``: metadata lost, or
        an array missing, unreadable or not matching its checksums.  Incomplete networks
        are not damaged (a collection resumes them)."""
        from tqdm import tqdm

        if space not in self.root:
            return {}
        complete, bad = self._scan(space)
        for k in tqdm(complete, desc=f"verify {space}", unit="net", disable=not progress):
            try:
                self.read_network(space, k)
            except DamagedError as e:
                bad[k] = e.reason
        return bad

    def drop(self, space, key):
        """Delete network ``key`` of ``space`` whatever state it is in (writers only)."""
        if self.mode != "a":
            raise StoreError(f"{self.url}: open the store with mode 'a' to delete networks")
        self._delete(space, key)

    def _delete(self, space, key):
        zarr.core.sync.sync(self.root.store.delete_dir(self._key(space, key)))

    def _key(self, *parts):
        """The store key of a path below this store's root group."""
        return "/".join(p for p in (self.root.store_path.path, *parts) if p)

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


def group_bounds(groups, shapes):
    """Where each layer group starts and ends in a family row: cumulative element counts."""
    return np.cumsum([0] + [len(idx) * int(np.prod(shp)) for idx, shp in zip(groups, shapes)])


def round_mantissa(x, keep):
    """float32 tensor with each mantissa rounded to ``keep`` bits (round half to even),
    on a copy; the exponent range is float32's.  Non-finite values, and values that
    would round past the largest float32, are kept as they are."""
    drop = 23 - keep
    if drop <= 0:
        return x
    i = x.contiguous().view(torch.int32)
    half = (1 << (drop - 1)) - 1
    r = ((i + half + ((i >> drop) & 1)) & ~((1 << drop) - 1)).view(torch.float32)
    return torch.where(torch.isfinite(x) & torch.isfinite(r), r, x)  # NaN / inf and overflow: unchanged
