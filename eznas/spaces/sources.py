"""``load_ground_truth(space, dataset, path)``: one entry point for every space."""
import os

from eznas.spaces import benchmarks as B

PACKAGE_DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")
# NAS-Bench-201 accuracy table shipped with the package (see eznas/data/SOURCES.md)
NB201_PACKAGED = os.path.join(PACKAGE_DATA, "nb201.csv.gz")
BUILTIN = ("bench_nb201", "bench_nb201_noisy", "bench_sss", "bench_sss_noisy")
SPACES = ("nb201", "nats_sss", "nds_darts", "nds_amoeba", "nds_enas", "nds_pnas", "nds_nasnet") + BUILTIN


def _parser(space):
    """The function that checks an architecture id of ``space`` (ValueError when bad)."""
    from eznas.spaces import nats_sss, nb201

    if space in ("nb201", "bench_nb201", "bench_nb201_noisy"):
        return nb201.parse
    if space == "nats_sss":
        return nats_sss.parse
    if space in ("bench_sss", "bench_sss_noisy"):
        from eznas.bench.spaces import sss_parse

        return sss_parse
    return None  # NDS records are checked when built


def load_ground_truth(space, dataset=None, path=None):
    """Ground truth of ``space`` on ``dataset`` read from ``path`` (the built-in spaces
    read the tables shipped with the package and need no path).  Every architecture id is
    checked on load: a bad one is a GroundTruthError naming the file and the row."""
    gt = _load(space, dataset, path)
    check = _parser(space)
    if check is not None:
        for row, arch in enumerate(gt.archs):
            try:
                check(arch)
            except (ValueError, KeyError, TypeError) as e:
                raise B.GroundTruthError(f"{gt.source}: data row {row + 1}: architecture {arch!r} is not a {space} "
                                         f"architecture ({e})") from None
    return gt


def _load(space, dataset, path):
    if space in BUILTIN:
        path = path or os.path.join(PACKAGE_DATA, f"{space}.csv")
        return B.load_table(path, space, dataset or "digits")
    if space not in SPACES:
        raise ValueError(f"unknown space {space!r}; choose from {SPACES}")
    if not path and space == "nb201":
        return B.load_nb201_csv(NB201_PACKAGED, dataset or "cifar10")
    if not path:
        raise ValueError(f"--ground-truth PATH is needed for space {space!r} (a table, the official benchmark file or NDS JSON)")
    if space.startswith("nds_"):
        return B.load_nds_json(path, space[4:])
    dataset = dataset or "cifar10"
    if path.endswith((".csv", ".csv.gz", ".parquet")):
        if path.endswith(".gz") and os.path.exists(path):
            import gzip

            rows_head = gzip.open(path, "rt").readline()
        else:
            rows_head = open(path).readline() if path.endswith(".csv") and os.path.exists(path) else ""
        if "ArchitectureString" in rows_head:
            return B.load_nb201_csv(path, dataset)
        return B.load_table(path, space, dataset)
    return B.load_nb201_official(path, dataset) if space == "nb201" else B.load_nats_sss_official(path, dataset)


def input_shape(space, dataset=None):
    """(channels, size) of the inputs a space's networks take on ``dataset``."""
    if space in BUILTIN:
        return (1, 8)
    return (3, 16) if dataset and dataset.lower().startswith("imagenet16") else (3, 32)


def default_data(space):
    if space in BUILTIN and space.endswith("_noisy"):
        return "digits_noisy"
    return "digits" if space in BUILTIN else "photos"
