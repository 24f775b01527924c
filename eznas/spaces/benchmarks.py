"""Ground truth: for a space and dataset, the architecture ids, their test accuracies and
a builder for each id.

Formats read:
- the portable table (CSV, or Parquet with pandas installed): a column ``arch`` and an
  accuracy column ``accuracy`` or ``accuracy_<dataset>``; optional ``flops``, ``params``;
- the shared NAS-Bench-201 CSV (``ArchitectureString`` and ``<DS>TestAccuracy200Epochs``);
- the official NAS-Bench-201 / NATS-Bench files through their API packages
  (``nas_201_api`` / ``nats_bench``, optional, imported lazily);
- NDS per-space JSON files (a list of records with ``net`` and ``test_ep_top1``).
"""
import csv
import functools
import json
import os
from dataclasses import dataclass, field

import numpy as np

PACKAGE_DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")

NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "imagenet16-120": 120, "ImageNet16-120": 120, "class_object": 75, "class_scene": 47}
NB201_COLUMNS = {
    "cifar10": "CIFAR10TestAccuracy200Epochs",
    "cifar100": "CIFAR100TestAccuracy200Epochs",
    "imagenet16-120": "ImageNetTestAccuracy200Epochs",
}


class GroundTruthError(ValueError):
    """A ground-truth file is missing or not in the expected format."""


@dataclass
class GroundTruth:
    space: str
    dataset: str
    archs: list
    accuracy: np.ndarray
    columns: dict = field(default_factory=dict)  # optional extra per-arch columns (flops, params)
    build_kwargs: dict = field(default_factory=dict)
    source: str = ""
    lines: list = None  # the file's line number of each row, where the file has lines (CSV)

    def __len__(self):
        return len(self.archs)

    def line_note(self, *rows):
        """' (line 4 of the file)' for data rows ``rows`` (0-based), '' where lines are unknown."""
        return line_note(self.lines if self.lines and len(self.lines) == len(self.archs) else None, *rows)

    @functools.cached_property
    def index(self):
        """{architecture id (as a string): its row}."""
        return {str(a): i for i, a in enumerate(self.archs)}

    def build(self, arch, **kw):
        """A freshly initialised torch model of architecture ``arch`` (id or index)."""
        if isinstance(arch, (int, np.integer)):
            arch = self.archs[int(arch)]
        from eznas.spaces.registry import get

        args = {"num_classes": NUM_CLASSES.get(self.dataset, 10), **self.build_kwargs, **kw}
        return get(self.space).build(arch, **args)


def line_note(lines, *rows):
    """' (line 4 of the file)', ' (lines 2 and 7 of the file)' for data rows ``rows``
    (0-based) of a file whose rows start on ``lines``; '' when ``lines`` is None."""
    if not lines:
        return ""
    return f" (line{'s' if len(rows) > 1 else ''} {' and '.join(str(lines[r]) for r in rows)} of the file)"


class Rows(list):
    """A file's data rows (dicts); ``lines``: each row's line number in the file (CSV) or None."""
    lines = None


def _read_rows(path):
    if not os.path.exists(path):
        raise GroundTruthError(f"ground-truth file not found: {path}")
    if str(path).endswith(".parquet"):
        try:
            import pandas as pd
        except ImportError:
            raise GroundTruthError(f"{path}: reading Parquet needs pandas (pip install pandas pyarrow)") from None
        return Rows(pd.read_parquet(path).to_dict("records"))
    import gzip

    opener = gzip.open if str(path).endswith(".gz") else open
    rows, lines = Rows(), []
    with opener(path, "rt", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        try:
            for row in reader:
                rows.append(row)
                lines.append(reader.line_num)  # the line the row ends on (a quoted field may span lines)
        except UnicodeDecodeError:  # a binary file
            raise GroundTruthError(f"{path}: not a CSV text file (its bytes are not UTF-8 text)") from None
        except csv.Error as e:  # a field over csv's size limit, ...
            raise GroundTruthError(f"{path}: line {reader.line_num}: not a CSV row ({e})") from None
        except (EOFError, gzip.BadGzipFile) as e:
            raise GroundTruthError(f"{path}: damaged gzip file ({type(e).__name__}: {e})") from None
    rows.lines = lines
    if not rows:
        raise GroundTruthError(f"{path}: no rows")
    return rows


def _floats(rows, col, path):
    try:
        out = np.array([float(r[col]) for r in rows], dtype=np.float64)
    except (KeyError, ValueError, TypeError) as e:
        raise GroundTruthError(f"{path}: column {col!r} missing or not numeric ({e})") from None
    bad = np.flatnonzero(~np.isfinite(out))
    if len(bad):  # one NaN accuracy would make every Kendall tau of a search undefined
        raise GroundTruthError(f"{path}: column {col!r} has {len(bad)} non-finite values (first at data row "
                               f"{int(bad[0]) + 1}: {rows[bad[0]][col]!r}); accuracies must be finite numbers"
                               + line_note(getattr(rows, "lines", None), int(bad[0])))
    return out


def accuracies(rows, col, path):
    """Column ``col`` of ``rows`` as accuracies: finite numbers >= 0, else a GroundTruthError
    naming the file, the data row and its line."""
    out = _floats(rows, col, path)
    bad = np.flatnonzero(out < 0)
    if len(bad):
        raise GroundTruthError(f"{path}: data row {int(bad[0]) + 1}: accuracy {rows[bad[0]][col]!r} in column "
                               f"{col!r} is negative ({len(bad)} such rows); accuracies must be numbers >= 0"
                               + line_note(getattr(rows, "lines", None), int(bad[0])))
    return out


def load_table(path, space, dataset, **build_kwargs):
    """The portable table: ``arch`` plus ``accuracy`` or ``accuracy_<dataset>``."""
    rows = _read_rows(path)
    keys = rows[0].keys()
    acc_col = f"accuracy_{dataset}" if f"accuracy_{dataset}" in keys else "accuracy"
    if "arch" not in keys or acc_col not in keys:
        raise GroundTruthError(f"{path}: expected columns 'arch' and 'accuracy' or 'accuracy_{dataset}', found {sorted(keys)}")
    cols = {c: _floats(rows, c, path) for c in keys if c not in ("arch",) and not c.startswith("accuracy")
            and all(_isnum(r[c]) for r in rows[:5])}
    return GroundTruth(space, dataset, [r["arch"] for r in rows], accuracies(rows, acc_col, path), cols,
                       build_kwargs, str(path), rows.lines)


def load_any_table(path, space, dataset):
    """A CSV / Parquet file of ``space``: the NAS-Bench-201 table when it has an
    ``ArchitectureString`` column, else the portable table."""
    head = ""
    if os.path.exists(path) and path.endswith((".csv", ".csv.gz")):
        import gzip

        with (gzip.open(path, "rt") if path.endswith(".gz") else open(path)) as f:
            head = f.readline()
    if "ArchitectureString" in head:
        return load_nb201_csv(path, dataset)
    return load_table(path, space, dataset)


def is_table(path):
    return str(path).endswith((".csv", ".csv.gz", ".parquet"))


def _isnum(v):
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def load_nb201_csv(path, dataset="cifar10"):
    """The NAS-Bench-201 CSV (row i = benchmark index i)."""
    if dataset not in NB201_COLUMNS:
        raise GroundTruthError(f"dataset must be one of {sorted(NB201_COLUMNS)}, got {dataset!r}")
    rows = _read_rows(path)
    if "ArchitectureString" not in rows[0]:
        raise GroundTruthError(f"{path}: expected a column 'ArchitectureString' (NAS-Bench-201 table)")
    archs = [r["ArchitectureString"] for r in rows]
    return GroundTruth("nb201", dataset, archs, accuracies(rows, NB201_COLUMNS[dataset], path), {}, {}, str(path), rows.lines)


def load_nb201_official(path, dataset="cifar10", hp="200"):
    """The official NAS-Bench-201 / NATS-Bench (tss) file through its API package."""
    try:
        from nats_bench import create

        api = create(path, "tss", fast_mode=True, verbose=False)
    except ImportError:
        try:
            from nas_201_api import NASBench201API

            api = NASBench201API(path, verbose=False)
        except ImportError:
            raise GroundTruthError(f"{path}: reading the official file needs 'nats_bench' or 'nas_201_api' (pip install nats_bench)") from None
    ds = "ImageNet16-120" if dataset.lower().startswith("imagenet") else dataset
    archs = list(api.meta_archs)
    acc = np.array([api.get_more_info(i, ds, hp=hp, is_random=False)["test-accuracy"] for i in range(len(archs))])
    return GroundTruth("nb201", dataset, archs, acc, {}, {}, str(path))


def load_nats_sss_official(path, dataset="cifar10", hp="90"):
    """The official NATS-Bench size-search-space file through the nats_bench package."""
    try:
        from nats_bench import create
    except ImportError:
        raise GroundTruthError(f"{path}: reading NATS-Bench needs 'nats_bench' (pip install nats_bench)") from None
    api = create(path, "sss", fast_mode=True, verbose=False)
    ds = "ImageNet16-120" if dataset.lower().startswith("imagenet") else dataset
    archs = list(api.meta_archs)
    acc = np.array([api.get_more_info(i, ds, hp=hp, is_random=False)["test-accuracy"] for i in range(len(archs))])
    return GroundTruth("nats_sss", dataset, archs, acc, {}, {}, str(path))


def load_nds_json(path, space):
    """An NDS per-space JSON file: records with ``net`` (genotype, width, depth...) and
    ``test_ep_top1`` (top-1 error per epoch); accuracy = 100 - final error.  Architecture
    ids are the records' JSON-encoded ``net``."""
    if not os.path.exists(path):
        raise GroundTruthError(f"NDS file not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (ValueError, RecursionError) as e:  # not JSON or UTF-8, a 5000-digit integer, nesting too deep
        raise GroundTruthError(f"{path}: not valid JSON ({type(e).__name__}: {str(e)[:200]})") from None
    if isinstance(data, dict) and "top" in data:  # some NDS files nest the list
        data = data["top"] + data.get("mid", [])
    if not isinstance(data, list) or not data:
        raise GroundTruthError(f"{path}: expected a JSON list of NDS records")
    archs, acc = [], []
    for k, rec in enumerate(data):
        if not isinstance(rec, dict) or "net" not in rec or "test_ep_top1" not in rec:
            raise GroundTruthError(f"{path}: record {k} lacks 'net' or 'test_ep_top1'")
        try:
            error = float(rec["test_ep_top1"][-1])
        except (TypeError, ValueError, IndexError, KeyError):
            raise GroundTruthError(f"{path}: record {k}: 'test_ep_top1' is not a list of numbers") from None
        archs.append(json.dumps(rec["net"], sort_keys=True))
        acc.append(100.0 - error)
    return GroundTruth(f"nds_{space}", "cifar10", archs, np.array(acc), {}, {}, str(path))
