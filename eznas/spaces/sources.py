"""Ground truth, input shapes and default data of any space, by name: the registry's
records (``eznas.spaces.registry``) answer; ``load_ground_truth`` also checks every
architecture id."""
import numpy as np

from eznas.spaces import benchmarks as B
from eznas.spaces.registry import get, names

PACKAGE_DATA = B.PACKAGE_DATA


def load_ground_truth(space, dataset=None, path=None):
    """Ground truth of ``space`` on ``dataset`` (default: the space's first) read from
    ``path`` (NB201 and the built-in spaces read the tables shipped with the package when
    no path is given).  Every row is checked on load: an architecture that is not of the
    space, one network given twice, or an accuracy that is negative, NaN or infinite is a
    GroundTruthError naming the file, the row (and its line, in a CSV file) and the
    architecture."""
    sp = get(space)
    dataset = dataset or sp.datasets[0]
    if dataset not in sp.datasets:  # another dataset's name would label this one's accuracies
        raise ValueError(f"--dataset {str(dataset)[:40]!r}: space {space} has no such dataset; it has "
                         f"{', '.join(sp.datasets)}")
    gt = sp.ground_truth(dataset, path)
    first = {}
    for row, arch in enumerate(gt.archs):
        try:
            sp.check(arch)
        except (ValueError, KeyError, TypeError) as e:
            raise B.GroundTruthError(f"{gt.source}: data row {row + 1}: architecture {arch!r} is not a {space} "
                                     f"architecture ({e}){gt.line_note(row)}") from None
        if str(arch) in first:  # one network, two accuracies: which one is the truth?
            raise B.GroundTruthError(f"{gt.source}: data rows {first[str(arch)] + 1} and {row + 1} are the same "
                                     f"architecture {arch!r}; give each network once{gt.line_note(first[str(arch)], row)}")
        first[str(arch)] = row
    acc = np.asarray(gt.accuracy, dtype=np.float64)
    if len(acc) != len(gt.archs):
        raise B.GroundTruthError(f"{gt.source}: {len(gt.archs)} architectures but {len(acc)} accuracies")
    bad = np.flatnonzero(~np.isfinite(acc) | (acc < 0))  # every format (the readers of tables check theirs)
    if len(bad):
        raise B.GroundTruthError(f"{gt.source}: data row {bad[0] + 1}: architecture {gt.archs[bad[0]]!r} has "
                                 f"accuracy {float(acc[bad[0]])!r} ({len(bad)} such rows); accuracies must be finite "
                                 f"numbers >= 0{gt.line_note(int(bad[0]))}")
    return gt


def input_shape(space, dataset=None):
    """(channels, size) of the inputs a space's networks take on ``dataset``."""
    return get(space).input_shape(dataset)


def default_data(space):
    return get(space).default_data


def space_pattern(space):
    """The layer block a space's networks are built of: "rcb" or "cbr"."""
    return get(space).pattern


def space_max_channels(space):
    """The channels per layer a collection of ``space`` records by default (None: all)."""
    return get(space).max_channels


def space_names(builtin=None):
    return names(builtin)
