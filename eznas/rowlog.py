"""Resumable result tables: CSV rows keyed by ``arch``, appended and flushed one at a time,
so a run that stops resumes by skipping the architectures already written.  A row cut
short by a kill is never read as a result: readers skip rows with missing or extra fields,
and the next append starts on a new line."""
import contextlib
import csv
import os


def read_rows(path):
    """The complete rows of ``path`` (dicts; [] if it does not exist): a row with a field
    missing or one too many (cut short by a kill, or glued to the next), or with its last
    field empty (cut right after the last comma), is left out."""
    if not os.path.exists(path):
        return []
    with open(path, newline="", encoding="utf-8") as f, _readable(path):
        rows = csv.DictReader(f)
        # cut short: a field missing, one too many (glued to the next row), or the last one empty
        return [r for r in rows if None not in r and None not in r.values() and r[rows.fieldnames[-1]] != ""]


@contextlib.contextmanager
def _readable(path):
    """What reading ``path`` as CSV text raises, as a ValueError naming it: bytes that are
    not UTF-8 (a binary file), a row csv refuses (a field over its size limit)."""
    try:
        yield
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a CSV text file (its bytes are not UTF-8 text)") from None
    except csv.Error as e:
        raise ValueError(f"{path}: not a CSV file of rows ({e})") from None


def done_archs(path):
    """The ``arch`` values already in ``path`` (none if it does not exist)."""
    return {r["arch"] for r in read_rows(path)}


@contextlib.contextmanager
def appending(path, columns):
    """Yield ``write(row)``, which appends one row and flushes; the header is written when
    the file is new or empty, and a file with other columns is refused (ValueError)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    new = not os.path.exists(path) or os.path.getsize(path) == 0
    if not new:
        with open(path, newline="", encoding="utf-8") as f, _readable(path):
            header = next(csv.reader(f), [])
        if header != list(columns):
            raise ValueError(f"{path}: its columns {header} are not this run's {list(columns)}; "
                             "write to another file (nothing was appended)")
        with open(path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            cut = f.read(1) != b"\n"  # a row cut short by a kill: the next one starts on its own line
    with open(path, "a", newline="") as f:
        if not new and cut:
            f.write("\n")
        w = csv.DictWriter(f, columns)
        if new:
            w.writeheader()

        def write(row):
            w.writerow(row)
            f.flush()

        yield write


def _in_worker(work, items):
    import torch

    from eznas.parallel import exit_with_parent

    exit_with_parent()
    torch.set_num_threads(1)  # one torch thread per process
    return list(work(items))


def append_rows(path, columns, work, todo, jobs=1, chunk=25, desc="", progress=True):
    """Append the rows of ``work(items)`` (an iterable of row dicts; a picklable function)
    for the items ``todo`` to ``path``.  With one job, ``work`` runs once over all items in
    this process and each row is written as it comes; with more, chunks of ``chunk`` items
    go to joblib workers (one torch thread each) and rows are written chunk by chunk, in
    the order of ``todo`` whatever the number of jobs."""
    from joblib import Parallel, delayed
    from tqdm import tqdm

    with appending(path, columns) as write, tqdm(total=len(todo), desc=desc, unit="net", disable=not progress) as bar:
        if jobs == 1:
            parts = ([row] for row in work(todo))
        else:
            chunks = [todo[k:k + chunk] for k in range(0, len(todo), chunk)]
            parts = Parallel(n_jobs=jobs, return_as="generator")(delayed(_in_worker)(work, c) for c in chunks)
        for rows in parts:
            for row in rows:
                write(row)
            bar.update(len(rows))
