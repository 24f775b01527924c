"""The zarr statistics store.

Layout (zarr v3; any local path or fsspec URL such as ``memory://x`` or ``s3://b/x``)::

    /                       attrs: schema_version, uuid (the store's identity, made at creation)
    /<space>                attrs: config, config_hash (how its networks were collected)
    /<space>/<net>          attrs: arch, accuracy, flops, params, seed, batch_size,
                                   layer_names, groups (layer indices per group),
                                   shapes ({family: per-layer shape of each group}), checksums,
                                   meta_digest, complete
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
is gone is reported by ``networks`` instead of silently dropped.  The record also holds
``meta_digest``: a digest of each of the network's attributes (accuracy, arch, groups,
shapes, size attributes, the checksums themselves, ...) and of each field of its arrays'
zarr.json (data type, shape, chunks, codecs), from a canonical JSON of each value as
stored; every read of a network's attributes (``network_attrs``, ``attrs``) or arrays
(``read_network``) checks it, so an edited accuracy, shape, data type or checksum is a
``DamagedError`` naming the file and the field, never wrong numbers.  Array data types
are also checked against the space's config (float32 or float16), and an array's shape
against its network's groups and shapes.  Metadata that does not parse (a network's, an
array's, a space's or the store's zarr.json) is a ``DamagedError`` naming the file.
Networks written before digests (or checksums) read with one warning.  ``verify`` lists
the damaged networks, those written before digests included (their metadata cannot be
checked), and ``drop`` removes them so that a collection recollects them; a space whose
zarr.json is damaged cannot be recollected (it holds the config of its networks): the
error says so and what to do.  (The digests find damage and edits, not forgeries: one
who rewrites a value and its digest alike is not detected.)

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
SPACE_REPAIR = ("it records the config its networks were collected with, which no collection can tell again: "
                "restore this file from a copy of the store, or delete the space's folder {folder} and collect "
                "the space again")


class DamagedError(StoreError):
    """A network's stored arrays or metadata do not match its completion record, or a
    space's metadata is unreadable: ``where`` (the file) and ``reason``, followed by how to
    repair it (``repair``)."""

    def __init__(self, where, reason, repair=REPAIR):
        super().__init__(f"{where}: {reason}; {repair}")
        self.where, self.reason, self.repair = where, reason, repair

    def __reduce__(self):  # so that it crosses from a worker process as itself
        return type(self), (self.where, self.reason, self.repair)


class StoreLockedError(StoreError, LockedError):
    """Another process is writing to the store."""


def row_checksums(arr):
    """CRC-32 of each row of a stored (kinds, n) array, in its stored dtype."""
    return [zlib.crc32(np.ascontiguousarray(r)) for r in arr]


def config_hash(config):
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


UNDIGESTED = ("meta_digest", "complete")  # network attributes outside its metadata digest
STORED_DTYPES = ("float32", "float16")  # the only dtypes a family array is written in


def field_digests(record, skip=()):
    """{field: digest of its value} of a JSON object (a network's attributes, an array's
    zarr.json), from a canonical JSON of each value: what ``meta_digest`` records."""
    return {k: hashlib.sha256(json.dumps(v, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]
            for k, v in record.items() if k not in skip}


def digest_difference(recorded, record, skip=()):
    """What of ``record`` differs from the field digests ``recorded``, in words ('' when
    nothing does): each field changed (with its value when short), added or removed."""
    if not isinstance(recorded, dict):
        return f"the digest recorded is malformed ({type(recorded).__name__})"
    now = field_digests(record, skip)
    out = []
    for k in sorted(set(recorded) | set(now)):
        if k not in now:
            out.append(f"{k!r} removed")
        elif k not in recorded:
            out.append(f"{k!r} added")
        elif recorded[k] != now[k]:
            v = json.dumps(record[k])
            out.append(f"{k!r} changed" + (f" (reads {v})" if len(v) <= 40 else ""))
    return ", ".join(out)


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
        except (json.JSONDecodeError, UnicodeDecodeError) as e:  # there, but cut short or garbled
            raise DamagedError(f"{self.url.rstrip('/')}/zarr.json",
                               f"store metadata unreadable ({type(e).__name__}: {e})",
                               "it records the store's schema version and identity (uuid): restore this file "
                               "from a copy of the store") from None
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
        self._warned_unchecked = self._warned_undigested = False
        self._dtypes = {}  # space -> the dtype its config says its arrays have (None: either stored dtype)

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
        g = self._space(space)
        return dict(g.attrs).get("config", {}) if g is not None else {}

    def _space(self, space):
        """The group of ``space``; None when the store has no such space.  ``DamagedError``
        naming its zarr.json when that is missing (its folder holds networks) or unreadable:
        a space's config cannot be told again, so no collection rewrites it."""
        where, folder = f"{self.url}/{space}/zarr.json", f"{self.url}/{space}"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                g = self.root[space]
        except KeyError:
            if not self._holds_keys(space):
                return None
            raise DamagedError(where, "space metadata missing (its folder holds networks)",
                               SPACE_REPAIR.format(folder=folder)) from None
        except Exception as e:  # truncated / garbled JSON: zarr and json raise many types
            raise DamagedError(where, f"space metadata unreadable ({type(e).__name__}: {e})",
                               SPACE_REPAIR.format(folder=folder)) from None
        return g if isinstance(g, zarr.Group) else None

    def _holds_keys(self, *parts):
        async def first():
            async for _ in self.root.store.list_prefix(self._key(*parts) + "/"):
                return True
            return False

        return zarr.core.sync.sync(first())

    def _space_dtype(self, space):
        """The dtype the config of ``space`` stores its arrays in (None when it does not say:
        either of STORED_DTYPES)."""
        if space not in self._dtypes:
            dtype = self.space_config(space).get("dtype")
            self._dtypes[space] = dtype if dtype in STORED_DTYPES else None
        return self._dtypes[space]

    def open_space(self, space):
        """Create ``space`` with this writer's config, or check that it was collected with it."""
        if not self.config:
            raise StoreError(f"{self.url}: a collection config is needed to write")
        if self._space(space) is not None:
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
        """The store's spaces.  ``DamagedError`` (``_space``) when one's metadata is missing or
        unreadable: it would otherwise vanish from the list."""
        store = self.root.store

        async def ls():
            return [k async for k in store.list_dir(self._key())]

        names = sorted({k.rstrip("/") for k in zarr.core.sync.sync(ls())} - {"zarr.json"})
        return [s for s in names if self._space(s) is not None]

    def networks(self, space):
        """Keys of the complete networks of ``space``.  Raises ``DamagedError`` when a
        network's metadata is gone or unreadable (it would otherwise vanish silently)."""
        return sorted(self.network_attrs(space))

    def network_attrs(self, space):
        """{key: attrs} of the complete networks of ``space``, from one reading of their
        metadata, each checked against its digest (``meta_digest``); ``DamagedError`` as
        ``networks``, and naming each network whose metadata was changed and what changed."""
        if self._space(space) is None:
            return {}
        complete, damaged = self._scan(space)
        if damaged:
            lost = sorted(k for k, why in damaged.items() if why.startswith("network metadata (zarr.json)"))
            changed = sorted(set(damaged) - set(lost))
            parts = []
            if lost:
                parts.append(f"{len(lost)} networks have no readable zarr.json "
                             f"({', '.join(lost[:5])}{' ...' if len(lost) > 5 else ''})")
            if changed:
                parts.append(f"{len(changed)} networks' metadata do not match their digests (" +
                             "; ".join(f"{self.url}/{space}/{k}/zarr.json: {damaged[k]}" for k in changed[:5]) +
                             (" ..." if len(changed) > 5 else "") + ")")
            raise DamagedError(f"{self.url}/{space}", "; ".join(parts))
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
            if not attrs.get("complete"):
                continue
            why = self._attrs_difference(f"{space}/{k}", attrs)
            if why:
                damaged[k] = why
            else:
                complete[k] = attrs
        return complete, damaged

    def _attrs_difference(self, path, attrs):
        """Why the attributes of the complete network ``path`` do not match the digest they
        were written with, in words ('' when they do; a network written before digests is
        read with one warning)."""
        if "meta_digest" not in attrs:
            self._warn_undigested(path)
            return ""
        recorded = attrs["meta_digest"]
        diff = digest_difference(recorded.get("attrs") if isinstance(recorded, dict) else recorded, attrs, UNDIGESTED)
        return f"network metadata does not match its digest (meta_digest): {diff}" if diff else ""

    def _warn_undigested(self, path):
        if not self._warned_undigested:
            self._warned_undigested = True
            warnings.warn(f"{self.url}: networks written before metadata digests were recorded (e.g. {path}); "
                          "a change of their metadata (accuracy, shapes, array data types) cannot be detected; "
                          "collect --verify recollects them", stacklevel=3)

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
        """A network's attributes, checked against its digest as ``read_network`` does."""
        g = self._group(space, key)
        attrs = dict(g.attrs)
        self._check_attrs(space, key, attrs)
        return attrs

    def _check_attrs(self, space, key, attrs):
        if attrs.get("complete"):
            why = self._attrs_difference(f"{space}/{key}", attrs)
            if why:
                raise DamagedError(f"{self.url}/{space}/{key}/zarr.json", why)

    def _json(self, *parts):
        """The JSON object of the zarr.json at ``parts`` below the root, as stored (None when
        it is absent); json's errors when it does not parse."""
        from zarr.core.buffer import default_buffer_prototype

        key = self._key(*parts, "zarr.json")
        buf = zarr.core.sync.sync(self.root.store.get(key, prototype=default_buffer_prototype()))
        return None if buf is None else json.loads(buf.to_bytes())

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
        # the digest of what a reader will read back: the attributes (data checksums included)
        # and each array's metadata (dtype, shape, chunks, codecs), as stored
        stored = dict(self._group(space, key).attrs)
        digest = {"attrs": field_digests(stored, UNDIGESTED),
                  "arrays": {fam: field_digests(self._json(space, key, fam), ("attributes",)) for fam in checksums}}
        g.attrs.update({"meta_digest": digest, "complete": True})
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
        """Read one complete network, only ``kinds`` (default: all 22), as float32 tensors.
        Its attributes and the metadata of each array read are checked against the digest
        they were written with, and the data against its checksums: ``DamagedError`` naming
        the file and what does not match."""
        path = f"{space}/{key}"
        g = self._group(space, key)
        attrs = dict(g.attrs)
        if not attrs.get("complete"):
            raise StoreError(f"{self.url}: network {path} is incomplete")
        self._check_attrs(space, key, attrs)
        kinds = tuple(kinds) if kinds is not None else tuple(FAMILY_OF)
        bad = [k for k in kinds if k not in FAMILY_OF]
        if bad:
            raise StoreError(f"unknown statistics kinds {bad}")
        by_fam = {}
        for k in kinds:
            by_fam.setdefault(FAMILY_OF[k], []).append(k)
        sums = attrs.get("checksums")
        if sums is None and not self._warned_unchecked:
            self._warned_unchecked = True
            warnings.warn(f"{self.url}: networks written before checksums were recorded (e.g. {path}); "
                          "damage to them cannot be detected", stacklevel=2)
        try:  # the layout a network written before digests gives (a digested one is checked already)
            groups = [(idx, {}) for idx in attrs["groups"]]
            layout = {f: (attrs["shapes"][f], group_bounds(attrs["groups"], attrs["shapes"][f])) for f in by_fam}
            if any(len(shapes) != len(groups) for shapes, _ in layout.values()):
                raise ValueError("a shape per layer group is needed")
        except (KeyError, TypeError, ValueError) as e:
            raise DamagedError(f"{self.url}/{path}/zarr.json", f"network metadata malformed (its groups and shapes: "
                               f"{type(e).__name__}: {e})") from None
        for fam, ks in by_fam.items():
            if not groups:
                break
            shapes, bounds = layout[fam]
            arr = self._array(g, space, path, fam, attrs, (len(FAMILIES[fam]), int(bounds[-1])))
            # float16 -> float32 by torch: numpy's cast is about 14x slower
            if 2 * len(ks) >= len(FAMILIES[fam]):  # most of the family: one read of the whole array
                whole = self._rows(arr, path, fam, None, sums)
                rows = {k: whole[POSITION[k]] for k in ks}
            else:
                rows = {k: self._rows(arr, path, fam, POSITION[k], sums) for k in ks}
            for k, row in rows.items():
                for j, (idx, out) in enumerate(groups):
                    out[k] = row[bounds[j]:bounds[j + 1]].reshape([len(idx)] + list(shapes[j])).to(device)
        return NetworkStats(key, attrs, groups)

    def _array(self, g, space, path, fam, attrs, shape):
        """The array of family ``fam`` of network ``path`` (group ``g``, attributes ``attrs``),
        once its metadata is checked: readable, as recorded in the network's digest, of the
        dtype its space stores and of the ``shape`` its groups and shapes give."""
        where = f"{self.url}/{path}/{fam}"
        meta_file = f"{where}/zarr.json"
        try:
            meta = self._json(path, fam)
        except Exception as e:  # truncated / garbled JSON, not UTF-8
            raise DamagedError(meta_file, f"array metadata {fam}/zarr.json unreadable "
                               f"({type(e).__name__}: {e})") from None
        if meta is None:
            raise DamagedError(where, "array missing from a network marked complete")
        if not isinstance(meta, dict):
            raise DamagedError(meta_file, f"array metadata {fam}/zarr.json is not a JSON object")
        digest = attrs.get("meta_digest")
        if digest is not None:
            arrays = digest.get("arrays") if isinstance(digest, dict) else None
            want = arrays.get(fam) if isinstance(arrays, dict) else None
            diff = ("the digest records no such array" if want is None
                    else digest_difference(want, meta, ("attributes",)))
            if diff:
                raise DamagedError(meta_file, f"array metadata {fam}/zarr.json does not match its network's digest "
                                   f"(meta_digest in {self.url}/{path}/zarr.json): {diff}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                arr = g[fam]
        except Exception as e:
            raise DamagedError(meta_file, f"array metadata {fam}/zarr.json unreadable "
                               f"({type(e).__name__}: {e})") from None
        want = self._space_dtype(space)
        allowed = [np.dtype(d) for d in ((want,) if want else STORED_DTYPES)]
        if not isinstance(arr, zarr.Array) or arr.dtype not in allowed:
            got = arr.dtype.str if isinstance(arr, zarr.Array) else "none (not an array)"
            raise DamagedError(meta_file, f"array {fam}/zarr.json: data type {got}, but space {space!r} stores "
                               + " or ".join(f"{d.name} ({d.str})" for d in allowed))
        if tuple(arr.shape) != tuple(shape):
            raise DamagedError(meta_file, f"array {fam}/zarr.json: shape {list(arr.shape)}, but the network's groups "
                               f"and shapes ({self.url}/{path}/zarr.json) give {list(shape)}")
        return arr

    def _rows(self, arr, path, fam, row, sums):
        """Family ``fam`` of network ``path`` (its array ``arr``; all rows, or one), checked
        against the completion record, as a float32 tensor."""
        where = f"{self.url}/{path}/{fam}"
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
        not matching its digest, or an array missing, unreadable or not matching its
        checksums; a network written before digests (or checksums), whose metadata cannot be
        checked, is reported too, so that a collection with --verify writes it again.
        Incomplete networks are not damaged (a collection resumes them).  A space whose
        own metadata is unreadable is a ``DamagedError`` (``_space``)."""
        from tqdm import tqdm

        if self._space(space) is None:
            return {}
        complete, bad = self._scan(space)
        for k in tqdm(complete, desc=f"verify {space}", unit="net", disable=not progress):
            if "meta_digest" not in complete[k] or complete[k].get("checksums") is None:
                bad[k] = ("no metadata digest (written before digests were recorded, or its meta_digest was removed): "
                          "its metadata cannot be checked")
                continue
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
