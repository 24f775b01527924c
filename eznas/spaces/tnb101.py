"""TransNAS-Bench-101 (Duan et al., CVPR 2021): the macro and the micro search space, with
the classification tasks ``class_object`` (75 classes) and ``class_scene`` (47).

Architecture ids are the benchmark's own strings ``<base>-<macro skeleton>-<cell>``:

- ``tnb101_macro``: ``64-<digits>-basic``, 4 to 6 digits in 1..4, one per stage of two
  ResNet basic blocks: 1 keeps the shape, 2 doubles the channels, 3 halves the
  resolution, 4 does both (e.g. ``64-1242-basic``).  A network is in the benchmark when it
  halves the resolution in 1 to 4 stages and doubles the channels in 1 to 3 stages:
  3,256 networks.
- ``tnb101_micro``: ``64-41414-a_bc_def``, the fixed skeleton 41414 of two-cell stages and
  one 4-node cell: a is the op of edge (1<-0), b c of (2<-0) (2<-1), d e f of (3<-0) (3<-1)
  (3<-2); ops 0 none, 1 skip, 2 ReLU-Conv1x1-BN, 3 ReLU-Conv3x3-BN (e.g.
  ``64-41414-1_02_333``): 4,096 cells.

NASLib / NAS-Bench-Suite-Zero write the same networks as tuples of digits: macro the stage
digits padded with zeros to length 6 (``(1, 2, 4, 2, 0, 0)`` is ``64-1242-basic``), micro
the six edge digits in the order above (``(1, 0, 2, 3, 3, 3)`` is ``64-41414-1_02_333``);
``ground_truth`` converts them, ``check`` accepts only the benchmark strings.

Indices (``arch_of``): micro in base 4 over the six edge digits, first edge slowest (NASLib's
``itertools.product(range(4), repeat=6)`` order); macro the valid skeletons by length
(4, 5, 6), then in lexicographic digit order.

Neighbours: micro, the 18 cells with one edge's op changed; macro, every valid skeleton
with one stage's digit changed, one stage (any digit, any position) inserted or one stage
removed.

Inputs: ``RESOLUTION`` px per space.  The benchmark trains at 256 x 256 (the reference FLOPs
are at 256); ours is the smallest power of two >= 32 at which every network runs a
train-mode forward at batch 1 (every BatchNorm sees more than one value per channel):
the stem divides by 4 and each halving stage by 2 (rounding up).
"""
import itertools
import os
import re

from eznas.spaces.encoding import from_index, one_change, to_index
from eznas.spaces.init import eznas_init
from eznas.spaces.registry import register
from eznas.spaces.space import SearchSpace
from eznas.spaces.tnb101_ops import BasicBlock, MicroCell, TNBNetwork

BASE = 64
MICRO_SKELETON = (4, 1, 4, 1, 4)
DIGITS = (1, 2, 3, 4)
MICRO_DIGITS = (0, 1, 2, 3)
DATASETS = ("class_object", "class_scene")
TASKS = DATASETS + ("room_layout", "jigsaw", "segmentsemantic", "normal", "autoencoder")
RESOLUTION = {"tnb101_macro": 128, "tnb101_micro": 64}  # px; see the module docstring
# statistics of each layer's first 64 channels (stats_cache.schema): 64 to 2,048-channel layers would
# otherwise record 60-130 MB per network (BENCHMARKS.md, "Real spaces")
MAX_CHANNELS = 64
# The heads NASLib built when it computed the reference params / FLOPs of NAS-Bench-Suite-Zero
# (Taskonomy's selected classes before TransNAS-Bench-101 kept 75 / 47 of them).
NASLIB_HEAD = {"class_object": 100, "class_scene": 63}
SHIPPED = {"tnb101_macro": "tnb101_macro.csv.gz", "tnb101_micro": "tnb101_micro.csv.gz"}

_MACRO_RE = re.compile(r"64-([1-4]{4,6})-basic")
_MICRO_RE = re.compile(r"64-41414-([0-3])_([0-3]{2})_([0-3]{3})")


def macro_valid(digits):
    """The benchmark's rule: 4..6 stages, 1..4 of them halve the resolution (3, 4), 1..3
    double the channels (2, 4)."""
    reduce = sum(d in (3, 4) for d in digits)
    double = sum(d in (2, 4) for d in digits)
    return 4 <= len(digits) <= 6 and all(d in DIGITS for d in digits) and 1 <= reduce <= 4 and 1 <= double <= 3


MACRO_ARCHS = tuple(f"{BASE}-{''.join(map(str, d))}-basic" for n in (4, 5, 6)
                    for d in itertools.product(DIGITS, repeat=n) if macro_valid(d))
_MACRO_INDEX = {a: i for i, a in enumerate(MACRO_ARCHS)}
N_MACRO = len(MACRO_ARCHS)  # 3,256
N_MICRO = 4 ** 6


def parse_macro(arch):
    """``64-1242-basic`` -> (1, 2, 4, 2); ValueError naming the problem."""
    m = _MACRO_RE.fullmatch(arch) if isinstance(arch, str) else None
    if m is None:
        raise ValueError(f"not a TransNAS-Bench-101 macro architecture: {arch!r} (expected 64-<4 to 6 digits "
                         "in 1..4>-basic, e.g. 64-1242-basic)")
    digits = tuple(int(c) for c in m.group(1))
    if not macro_valid(digits):
        raise ValueError(f"{arch!r} is not in the TransNAS-Bench-101 macro space: it must halve the resolution "
                         "(digits 3, 4) in 1 to 4 stages and double the channels (2, 4) in 1 to 3")
    return digits


def format_macro(digits):
    return f"{BASE}-{''.join(str(d) for d in digits)}-basic"


def parse_micro(arch):
    """``64-41414-1_02_333`` -> (1, 0, 2, 3, 3, 3); ValueError naming the problem."""
    m = _MICRO_RE.fullmatch(arch) if isinstance(arch, str) else None
    if m is None:
        raise ValueError(f"not a TransNAS-Bench-101 micro architecture: {arch!r} (expected 64-41414-a_bc_def "
                         "with digits 0..3, e.g. 64-41414-1_02_333)")
    return tuple(int(c) for c in "".join(m.groups()))


def format_micro(ops):
    ops = tuple(ops)
    if len(ops) != 6 or any(o not in MICRO_DIGITS for o in ops):
        raise ValueError(f"a TransNAS-Bench-101 micro cell has 6 edge digits in 0..3, got {ops}")
    return "{}-41414-{}_{}{}_{}{}{}".format(BASE, *ops)


def macro_arch(index):
    if not 0 <= index < N_MACRO:
        raise ValueError(f"TransNAS-Bench-101 macro index must be in [0, {N_MACRO}), got {index}")
    return MACRO_ARCHS[index]


def macro_index(arch):
    parse_macro(arch)
    return _MACRO_INDEX[arch]


def micro_arch(index):
    return format_micro(from_index(index, MICRO_DIGITS, 6, "TransNAS-Bench-101 micro"))


def micro_index(arch):
    return to_index(parse_micro(arch), MICRO_DIGITS)


def macro_neighbours(arch):
    """Valid skeletons one choice away: one stage's digit changed, a stage inserted, or a
    stage removed; distinct, without ``arch``, in that order."""
    d = parse_macro(arch)
    cands = [d[:k] + (c,) + d[k + 1:] for k in range(len(d)) for c in DIGITS if c != d[k]]
    cands += [d[:k] + (c,) + d[k:] for k in range(len(d) + 1) for c in DIGITS]
    cands += [d[:k] + d[k + 1:] for k in range(len(d))]
    out, seen = [], {d}
    for c in cands:
        if c not in seen and macro_valid(c):
            seen.add(c)
            out.append(format_macro(c))
    return out


def micro_neighbours(arch):
    """The 18 cells that differ from ``arch`` in one edge's op."""
    return [format_micro(ops) for ops in one_change(parse_micro(arch), MICRO_DIGITS)]


def build_macro(arch, num_classes=75, in_channels=3, init=True):
    net = TNBNetwork(parse_macro(arch), BasicBlock, BASE, num_classes, in_channels)
    return eznas_init(net) if init else net


def build_micro(arch, num_classes=75, in_channels=3, init=True):
    ops = parse_micro(arch)
    net = TNBNetwork(MICRO_SKELETON, lambda c_in, c_out, stride: MicroCell(ops, c_in, c_out, stride),
                     BASE, num_classes, in_channels)
    return eznas_init(net) if init else net


def from_naslib(space, value):
    """A NASLib tuple string (``(1, 2, 4, 2, 0, 0)``, padded or not) or a benchmark string
    -> the benchmark string of ``space``; ValueError when it is neither."""
    text = str(value).strip()
    if text.startswith(("(", "[")) and text.endswith((")", "]")):
        try:
            digits = tuple(int(t) for t in text[1:-1].replace(" ", "").split(",") if t != "")
        except ValueError:
            raise ValueError(f"not a tuple of digits: {text!r}") from None
        if space == "tnb101_micro":
            return format_micro(digits)
        stages = digits
        while stages and stages[-1] == 0:
            stages = stages[:-1]
        if len(digits) > 6 or 0 in stages:
            raise ValueError(f"a macro tuple is 4 to 6 digits in 1..4, padded with zeros to length 6: {text!r}")
        return format_macro(stages)
    return text


def _ground_truth(space, parse):
    def load(dataset, path=None):
        from eznas.spaces import benchmarks as B

        if not path:
            if dataset not in DATASETS:
                raise B.GroundTruthError(f"{space}: the shipped table has {', '.join(DATASETS)}; for task "
                                         f"{dataset!r} give its file (--ground-truth)")
            return B.load_table(os.path.join(B.PACKAGE_DATA, SHIPPED[space]), space, dataset)
        if str(path).endswith((".pth", ".pt")):
            return _load_official(path, space, dataset)
        return _load_csv(path, space, dataset, parse)

    return load


def _row_error(path, row, raw, space, why, lines=None):
    from eznas.spaces.benchmarks import GroundTruthError, line_note

    return GroundTruthError(f"{path}: data row {row + 1}: architecture {raw!r} is not a {space} architecture ({why})"
                            f"{line_note(lines, row)}")


def _load_csv(path, space, dataset, parse):
    """The NAS-Bench-Suite-Zero task file (``arch`` as NASLib tuples, ``val_accuracy``; its
    ``flops`` / ``params`` kept when present) or the portable table (``arch``, ``accuracy``
    or ``accuracy_<dataset>``; benchmark strings or tuples)."""
    from eznas.spaces import benchmarks as B

    stem = os.path.basename(str(path)).split(".")[0]
    task = stem[:-len("_proxies")] if stem.endswith("_proxies") else stem
    if task in TASKS and task != dataset:
        raise B.GroundTruthError(f"{path}: this is the {task!r} file of TransNAS-Bench-101, not {dataset!r}")
    rows = B._read_rows(path)
    keys = rows[0].keys()
    acc_col = next((c for c in ("val_accuracy", f"accuracy_{dataset}", "accuracy") if c in keys), None)
    if "arch" not in keys or acc_col is None:
        raise B.GroundTruthError(f"{path}: expected columns 'arch' and 'val_accuracy', 'accuracy_{dataset}' or "
                                 f"'accuracy', found {sorted(keys)}")
    archs = []  # a network given twice is refused by sources.load_ground_truth, for every space
    for k, r in enumerate(rows):
        try:
            arch = from_naslib(space, r["arch"])
            parse(arch)
        except (ValueError, TypeError) as e:
            raise _row_error(path, k, r["arch"], space, e, rows.lines) from None
        archs.append(arch)
    cols = {c: B._floats(rows, c, path) for c in ("flops", "params") if c in keys}
    return B.GroundTruth(space, dataset, archs, B.accuracies(rows, acc_col, path), cols, {}, str(path), rows.lines)


def _load_official(path, space, dataset):
    """The official TransNAS-Bench-101 ``.pth`` database (plain dicts and lists), read with
    ``torch.load(weights_only=True)``: final ``valid_top1`` of ``dataset``."""
    import numpy as np
    import torch

    from eznas.spaces import benchmarks as B

    if not os.path.exists(path):
        raise B.GroundTruthError(f"ground-truth file not found: {path}")
    try:
        db = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # weights_only refuses anything but plain containers and tensors
        raise B.GroundTruthError(f"{path}: not a TransNAS-Bench-101 database readable with "
                                 f"torch.load(weights_only=True) ({type(e).__name__}: {e})") from None
    key = space.split("_")[-1]
    try:
        records = db["data"][key]
    except (KeyError, TypeError):
        raise B.GroundTruthError(f"{path}: expected a dict with data[{key!r}] (the TransNAS-Bench-101 database)") from None
    archs, acc = [], []
    for k, (arch, res) in enumerate(records.items()):
        try:
            value = res[dataset]["metrics"]["valid_top1"][-1]
        except (KeyError, TypeError, IndexError):
            raise B.GroundTruthError(f"{path}: {arch!r} has no {dataset} valid_top1") from None
        archs.append(arch)
        acc.append(float(value))
    acc = np.array(acc, dtype=np.float64)
    if not np.all(np.isfinite(acc)):
        raise B.GroundTruthError(f"{path}: non-finite {dataset} valid_top1 values")
    return B.GroundTruth(space, dataset, archs, acc, {}, {}, str(path))


register(SearchSpace(
    name="tnb101_macro",
    description="TransNAS-Bench-101 macro: 3,256 skeletons of 4-6 stages of ResNet basic blocks (C=64)",
    build=build_macro, check=parse_macro, datasets=DATASETS, ground_truth=_ground_truth("tnb101_macro", parse_macro),
    input_size=lambda dataset: RESOLUTION["tnb101_macro"], default_data="photos", size=N_MACRO,
    arch_of=macro_arch, neighbours=macro_neighbours, pattern="rcb", max_channels=MAX_CHANNELS))

register(SearchSpace(
    name="tnb101_micro",
    description="TransNAS-Bench-101 micro: 4,096 cells of 6 edges in the skeleton 64-41414",
    build=build_micro, check=parse_micro, datasets=DATASETS, ground_truth=_ground_truth("tnb101_micro", parse_micro),
    input_size=lambda dataset: RESOLUTION["tnb101_micro"], default_data="photos", size=N_MICRO,
    arch_of=micro_arch, neighbours=micro_neighbours, pattern="rcb", max_channels=MAX_CHANNELS))
