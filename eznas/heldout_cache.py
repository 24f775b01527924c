"""Scores of streamed test networks kept on disk, so that a rerun (another search on the same
test sets, the same run resumed, more programs) scores only the networks and programs it
has not scored before.

One folder per (space, dataset, collection settings, per-layer scalar, engine version):
``<root>/<space>-<dataset>/<digest>/``.  In it, one CSV per program (``<digest>.csv``, rows
index, arch, value; ``<digest>.txt`` holds the program's text) and ``size.csv`` (index,
arch, params, flops, synflow).  Rows are appended as networks finish, so a killed run keeps
what it scored; a row cut short is skipped when read; a value is used only where the
row's architecture is the network's.  Nothing in these files is executed or unpickled.
"""
import hashlib
import json
import os

from eznas.rowlog import appending, read_rows
from eznas.version import __version__
from stats_cache.schema import SCHEMA_VERSION

# raised whenever the collection changes the values it records (not only their layout):
# 2 = collection on one torch thread
COLLECTION_REVISION = 2
SIZE = ("params", "flops", "synflow")


def _digest(text, n):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def folder(root, gt, data_cfg, how):
    """The cache folder of test networks of ``gt`` collected as ``data_cfg`` says."""
    key = json.dumps({"data": data_cfg, "to_scalar": how, "schema": SCHEMA_VERSION, "revision": COLLECTION_REVISION,
                      "eznas": __version__}, sort_keys=True, default=str)
    return os.path.join(root, f"{gt.space}-{gt.dataset}", _digest(key, 12))


def _program_file(d, text):
    return os.path.join(d, _digest(text, 16))


def _held_text(base):
    try:
        with open(base + ".txt", encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError):
        return None


class ScoreCache:
    def __init__(self, root, gt, data_cfg, how):
        self.gt = gt
        self.dir = folder(root, gt, data_cfg, how)

    def _read(self, path, cols):
        out = {}
        try:
            rows = read_rows(path)
        except (OSError, UnicodeDecodeError, ValueError):
            return out  # unreadable: scored again (and appended to a fresh file by the caller's writer)
        n = len(self.gt.archs)
        for r in rows:
            try:
                i = int(r["index"])
                if 0 <= i < n and r["arch"] == str(self.gt.archs[i]):
                    out[i] = {c: float(r[c]) for c in cols}
            except (KeyError, ValueError, TypeError):
                continue
        return out

    def size(self):
        return self._read(os.path.join(self.dir, "size.csv"), SIZE)

    def program(self, text):
        base = _program_file(self.dir, text)
        held = _held_text(base)
        if held is not None and held != text:
            return {}  # another program's file (a digest collision): not this one's scores
        return {i: v["value"] for i, v in self._read(base + ".csv", ("value",)).items()}

    def writers(self, stack, texts):
        """{text: write(row)} for each program and "size" (files and their .txt made as needed)."""
        os.makedirs(self.dir, exist_ok=True)
        out = {"size": stack.enter_context(appending(os.path.join(self.dir, "size.csv"), ("index", "arch") + SIZE))}
        for t in texts:
            base = _program_file(self.dir, t)
            held = _held_text(base)
            if held is None:
                tmp = f"{base}.txt.tmp-{os.getpid()}"
                with open(tmp, "w", encoding="utf-8") as f:
                    f.write(t)
                os.replace(tmp, base + ".txt")
            elif held != t:
                continue  # a collision: this program is scored but not kept
            out[t] = stack.enter_context(appending(base + ".csv", ("index", "arch", "value")))
        return out
