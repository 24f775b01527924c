"""Train the built-in benchmark's networks and write / extend its tables.

    eznas bench build --space bench_nb201 --n 1000 --seed 0 --out eznas/data/bench_nb201.csv
    eznas bench retrain --table eznas/data/bench_nb201.csv --space bench_nb201 --n 100 --seed 1 --out eznas/data/bench_nb201_seed1.csv
    eznas bench report

Rows are appended and flushed one network at a time, so an interrupted build resumes where
it stopped (architectures already in ``--out`` are skipped).
"""
import functools

import torch

from eznas.bench.data import load_digits_tensors, load_noisy_digits_tensors
from eznas.bench.train import train_and_test
from eznas.rowlog import append_rows, done_archs
from eznas.spaces.complexity import count_flops, count_params
from eznas.spaces.registry import get

COLUMNS = ["arch", "accuracy", "flops", "params", "train_seconds", "seed"]


def builtin_space(space):
    sp = get(space)
    if not sp.builtin:
        raise ValueError(f"--space {space!r} is not a built-in space (no training recipe)")
    return sp


def sample_archs(space, n, seed):
    """``n`` distinct architectures of built-in ``space``, in a fixed order for ``seed``."""
    return builtin_space(space).sample(n, seed)


def _one(space, arch, seed, data):
    torch.set_num_threads(1)
    sp = builtin_space(space)
    build = sp.build
    acc, secs = train_and_test(lambda: build(arch), data, seed, **sp.recipe)
    net = build(arch)
    return {"arch": arch, "accuracy": f"{acc:.4f}", "flops": f"{count_flops(net, (1, 1, 8, 8)):.6f}",
            "params": f"{count_params(net):.6f}", "train_seconds": f"{secs:.3f}", "seed": seed}


def _rows(space, seed, data, archs):
    return (_one(space, a, seed, data) for a in archs)


def train_many(space, archs, seed, out, jobs=1, progress=True):
    """Train ``archs`` (skipping those already in ``out``), appending rows to ``out`` in
    the order of ``archs``, one network per unit of work (a progress bar unless
    ``progress`` is False)."""
    done = done_archs(out)
    todo = [a for a in archs if a not in done]
    data = load_noisy_digits_tensors() if space.endswith("_noisy") else load_digits_tensors()
    append_rows(out, COLUMNS, functools.partial(_rows, space, seed, data), todo, jobs, 1, f"train {space}", progress)
    return len(todo)
