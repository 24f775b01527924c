"""Fitness values kept on disk, so that a rerun of a search (the same store, task and
settings) reads them instead of scoring every program again.

One CSV per (store identity, task accuracies, per-layer scalar, size factor, engine
version): ``<runs root>/fitness-cache/<digest>.csv``, rows (program, sample, fitness), where
sample is a digest of the generation's {space: network keys} and an empty fitness is a
program invalid on that sample.  A value is the float the evaluation returned, written with
``repr``: a rerun's search is the uninterrupted one's.  Rows are appended as generations
finish; a row cut short is skipped.  Nothing here is executed or unpickled.
"""
import hashlib
import json
import os

from eznas.rowlog import appending, read_rows
from eznas.version import __version__

COLUMNS = ("program", "sample", "fitness")


def _digest(obj):
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def sample_key(sample):
    return _digest(sorted((s, list(k)) for s, k in sample.items()))


class FitnessCache:
    def __init__(self, root, identity, accuracy, how, size_factor):
        key = {"store": {k: identity.get(k) for k in ("uuid", "digest", "spaces", "networks")},
               "accuracy": _digest({s: sorted(v.items()) for s, v in accuracy.items()}),
               "to_scalar": how, "size_factor": size_factor, "eznas": __version__}
        self.path = os.path.join(root, "fitness-cache", _digest(key) + ".csv")

    def read(self):
        """{(program, sample): fitness or None} of every complete row."""
        out = {}
        try:
            rows = read_rows(self.path)
        except (OSError, UnicodeDecodeError, ValueError):
            return out
        for r in rows:
            try:
                out[(r["program"], r["sample"])] = float(r["fitness"]) if r["fitness"] != "none" else None
            except (KeyError, ValueError, TypeError):
                continue
        return out

    def add(self, entries):
        """Append {(program, sample): fitness or None}."""
        if not entries:
            return
        with appending(self.path, COLUMNS) as write:
            for (text, skey), f in entries.items():
                write({"program": text, "sample": skey, "fitness": "none" if f is None else repr(float(f))})
