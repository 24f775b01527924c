"""Resumable result tables: CSV rows keyed by ``arch``, appended and flushed one at a time,
so a run that stops resumes by skipping the architectures already written."""
import contextlib
import csv
import os


def done_archs(path):
    """The ``arch`` values already in ``path`` (none if it does not exist)."""
    if not os.path.exists(path):
        return set()
    with open(path, newline="") as f:
        return {r["arch"] for r in csv.DictReader(f)}


@contextlib.contextmanager
def appending(path, columns):
    """Yield ``write(row)``, which appends one row and flushes; the header is written when
    the file is new or empty, and a file with other columns is refused (ValueError)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    new = not os.path.exists(path) or os.path.getsize(path) == 0
    if not new:
        with open(path, newline="") as f:
            header = next(csv.reader(f), [])
        if header != list(columns):
            raise ValueError(f"{path}: its columns {header} are not this run's {list(columns)}; "
                             "write to another file (nothing was appended)")
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, columns)
        if new:
            w.writeheader()

        def write(row):
            w.writerow(row)
            f.flush()

        yield write
