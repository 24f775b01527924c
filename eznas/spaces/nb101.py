"""NAS-Bench-101 (Ying et al., ICML 2019): cells of up to 7 vertices and 9 edges in a fixed
skeleton (stem Conv3x3-BN-ReLU of 128 channels, 3 stacks of 3 cells, 2x2 max pool and
doubled channels between stacks, global average pool, dense layer).  423,624 distinct
cells; there is no enumeration here (``size`` 0): the ground-truth file lists the networks.

Architecture id: the rows of the cell's adjacency matrix, each written as its n digits
(row i, column j = 1 for an edge i -> j; vertex 0 the input, n-1 the output), joined by
``,``, then ``|`` and the ops of the interior vertices 1..n-2 in order, joined by ``,``::

    0110001,0001000,0001000,0000100,0000010,0000001,0000000|conv3x3,conv1x1,maxpool3x3,conv3x3,conv1x1

Ops: ``conv3x3``, ``conv1x1``, ``maxpool3x3`` (the benchmark's ``conv3x3-bn-relu``,
``conv1x1-bn-relu``, ``maxpool3x3``).  An id is canonical when the matrix is pruned as the
benchmark prunes it: every vertex that is not on a path input -> output is removed (so two
cells that differ only in dangling vertices have one id).  ``check`` accepts canonical ids
only and names the canonical form of a valid but unpruned one; ``canonical`` converts any
valid cell (an id with dangling vertices or the benchmark's long op names, a (matrix, ops)
pair as the official API takes it, or NASLib's flat tuple) to its id.  Vertex order is
kept, not canonicalised under isomorphism: the order decides which vertices take the extra
channel of an uneven split, so the id builds exactly the network the benchmark trained; an
isomorphic cell written in another vertex order has another id.  Ids hold commas: CSV
files quote them (Python's csv module does).  ``neighbours`` edits the pruned cell (flip one
edge, change one op), so it never adds a vertex.

NASLib's tuple (NAS-Bench-Suite-Zero files): the n x n matrix row by row, then the n ops
by code: 0 input, 1 output, 2 maxpool3x3, 3 conv1x1, 4 conv3x3.
"""
import os

import numpy as np

from eznas.spaces.init import eznas_init
from eznas.spaces.nb101_ops import OPS, Network
from eznas.spaces.registry import register
from eznas.spaces.space import SearchSpace

MAX_VERTICES = 7
MAX_EDGES = 9
LONG_NAMES = {"conv3x3-bn-relu": "conv3x3", "conv1x1-bn-relu": "conv1x1", "maxpool3x3": "maxpool3x3"}
NASLIB_OPS = ("input", "output", "maxpool3x3", "conv1x1", "conv3x3")  # NASLib's op codes 0..4


def _split(arch):
    """An id string -> (matrix as lists of ints, op names as written); ValueError naming the
    problem.  No pruning or op-name check."""
    if not isinstance(arch, str) or arch.count("|") != 1:
        raise ValueError(f"not a NAS-Bench-101 architecture id (ROW,ROW,...|OP,OP,...): {arch!r}")
    rows_s, ops_s = arch.split("|")
    rows = rows_s.split(",")
    n = len(rows)
    if any(len(r) != n or set(r) - {"0", "1"} for r in rows):
        raise ValueError(f"{arch!r}: the matrix must be {n} rows of {n} digits 0/1")
    ops = ops_s.split(",") if ops_s else []
    return [[int(c) for c in r] for r in rows], ops


def _validate(matrix, ops, what):
    n = len(matrix)
    if n < 2:
        raise ValueError(f"{what}: a cell needs an input and an output vertex")
    if any(len(r) != n for r in matrix):
        raise ValueError(f"{what}: the matrix is not square")
    if any(matrix[i][j] not in (0, 1) for i in range(n) for j in range(n)):
        raise ValueError(f"{what}: matrix entries must be 0 or 1")
    if any(matrix[i][j] for i in range(n) for j in range(i + 1)):
        raise ValueError(f"{what}: the matrix must be upper triangular (edges i -> j with i < j only)")
    if len(ops) != n - 2:
        raise ValueError(f"{what}: {n} vertices need {n - 2} interior ops, got {len(ops)}")
    bad = [op for op in ops if op not in OPS]
    if bad:
        raise ValueError(f"{what}: unknown op {bad[0]!r}; expected one of {OPS}")


def prune(matrix, ops):
    """Remove the vertices not on a path input -> output (the benchmark's pruning); ValueError
    when the input does not reach the output."""
    n = len(matrix)
    fwd, stack = {0}, [0]
    while stack:
        v = stack.pop()
        for w in range(v + 1, n):
            if matrix[v][w] and w not in fwd:
                fwd.add(w)
                stack.append(w)
    back, stack = {n - 1}, [n - 1]
    while stack:
        v = stack.pop()
        for u in range(v):
            if matrix[u][v] and u not in back:
                back.add(u)
                stack.append(u)
    keep = sorted(fwd & back)
    if 0 not in keep or n - 1 not in keep:
        raise ValueError("the input is not connected to the output")
    return [[matrix[i][j] for j in keep] for i in keep], [ops[v - 1] for v in keep[1:-1]]


def format_arch(matrix, ops):
    return ",".join("".join(str(int(c)) for c in row) for row in matrix) + "|" + ",".join(ops)


def _finish(matrix, ops, what):
    """Validate, prune, check the benchmark's limits; the canonical id."""
    _validate(matrix, ops, what)
    try:
        matrix, ops = prune(matrix, ops)
    except ValueError as e:
        raise ValueError(f"{what}: {e}") from None
    if len(matrix) > MAX_VERTICES:
        raise ValueError(f"{what}: {len(matrix)} vertices (at most {MAX_VERTICES})")
    edges = sum(map(sum, matrix))
    if edges > MAX_EDGES:
        raise ValueError(f"{what}: {edges} edges (at most {MAX_EDGES})")
    return format_arch(matrix, ops)


def canonical(arch):
    """The canonical id of any valid cell: an id string (maybe unpruned, maybe with the
    benchmark's long op names), a (matrix, ops) pair with the input and output ops included
    or not, or NASLib's flat tuple.  ValueError for a cell outside the space."""
    if isinstance(arch, str):
        matrix, ops = _split(arch)
        ops = [LONG_NAMES.get(op, op) for op in ops]
        return _finish(matrix, ops, repr(arch))
    if isinstance(arch, (tuple, list)) and len(arch) == 2 and hasattr(arch[0], "__len__"):
        matrix = [[int(c) for c in row] for row in arch[0]]
        ops = [LONG_NAMES.get(op, op) for op in arch[1]]
        if len(ops) == len(matrix) and ops[:1] == ["input"] and ops[-1:] == ["output"]:
            ops = ops[1:-1]
        return _finish(matrix, ops, f"cell {arch!r}")
    return from_naslib(arch)


def from_naslib(values):
    """NASLib's flat tuple (n*n matrix entries, then n op codes) -> the canonical id."""
    values = [int(v) for v in values]
    n = next((k for k in range(2, MAX_VERTICES + 1) if k * k + k == len(values)), None)
    if n is None:
        raise ValueError(f"a NASLib NAS-Bench-101 tuple has n*n + n numbers (n <= {MAX_VERTICES}), got {len(values)}")
    codes = values[n * n:]
    if any(not 0 <= c < len(NASLIB_OPS) for c in codes):
        raise ValueError(f"op codes must be 0..{len(NASLIB_OPS) - 1} ({', '.join(NASLIB_OPS)}), got {codes}")
    names = [NASLIB_OPS[c] for c in codes]
    if names[0] != "input" or names[-1] != "output" or {"input", "output"} & set(names[1:-1]):
        raise ValueError(f"ops must be input, {n - 2} interior ops, output; got {names}")
    matrix = [values[i * n:(i + 1) * n] for i in range(n)]
    return _finish(matrix, names[1:-1], "NASLib tuple")


def parse_naslib(text):
    """NASLib's tuple as written in its CSV files, e.g. ``"(0, 1, ..., 4, 1)"`` (parsed,
    never evaluated) -> the canonical id."""
    s = str(text).strip()
    if not (s.startswith("(") and s.endswith(")")) and not (s.startswith("[") and s.endswith("]")):
        raise ValueError(f"not a NASLib tuple: {text!r}")
    try:
        values = [int(v) for v in s[1:-1].split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"not a tuple of integers: {text!r}") from None
    return from_naslib(values)


def parse(arch):
    """A canonical id -> (matrix, ops); ValueError for anything else (an unpruned but valid
    cell's message gives its canonical id)."""
    if not isinstance(arch, str):
        raise ValueError(f"a NAS-Bench-101 architecture id is a string (ROW,ROW,...|OP,OP,...), got {arch!r}; "
                         "nb101.canonical converts a (matrix, ops) pair or a NASLib tuple")
    canon = canonical(arch)
    if canon != arch:
        raise ValueError(f"{arch!r} is not in canonical form (pruned, short op names); write it as {canon!r}")
    return _split(arch)


def neighbours(arch):
    """The valid cells one edit away from ``arch``: one edge of the (pruned) matrix flipped,
    or one interior vertex's op changed; each pruned to its canonical id, distinct, in a
    fixed order, ``arch`` itself left out."""
    matrix, ops = parse(arch)
    n = len(matrix)
    out, seen = [], {arch}

    def add(m, o):
        try:
            a = _finish(m, o, "neighbour")
        except ValueError:
            return
        if a not in seen:
            seen.add(a)
            out.append(a)

    for i in range(n):
        for j in range(i + 1, n):
            m = [row[:] for row in matrix]
            m[i][j] = 1 - m[i][j]
            add(m, ops)
    for v, op in enumerate(ops):
        for other in OPS:
            if other != op:
                add(matrix, ops[:v] + [other] + ops[v + 1:])
    return out


def build(arch, num_classes=10, in_channels=3, init=True, stem_channels=128, stacks=3, cells_per_stack=3):
    """The NAS-Bench-101 network of a canonical id (nb101_ops.Network)."""
    matrix, ops = parse(arch)
    net = Network(matrix, ops, num_classes, in_channels, stem_channels, stacks, cells_per_stack)
    return eznas_init(net) if init else net


def check(arch):
    parse(arch)


def load_naslib_csv(path, dataset="cifar10"):
    """A NAS-Bench-Suite-Zero CSV: ``arch`` (NASLib's tuple) and ``val_accuracy``; the ids are
    converted to canonical ones (a bad row is a GroundTruthError naming the file and row).
    Its ``flops`` / ``params`` columns are not kept: the engine counts them itself
    (``eznas.spaces.complexity``; NASLib's FLOPs also count BN, ReLU and pooling)."""
    from eznas.spaces import benchmarks as B

    if dataset != "cifar10":
        raise B.GroundTruthError(f"{path}: NAS-Bench-101 has CIFAR-10 ground truth only, not {dataset!r}")
    rows = B._read_rows(path)
    if "arch" not in rows[0] or "val_accuracy" not in rows[0]:
        raise B.GroundTruthError(f"{path}: expected columns 'arch' and 'val_accuracy' (NAS-Bench-Suite-Zero), "
                                 f"found {sorted(rows[0])}")
    archs = []
    for k, r in enumerate(rows):
        try:
            archs.append(parse_naslib(r["arch"]))
        except ValueError as e:
            raise B.GroundTruthError(f"{path}: data row {k + 1}: architecture {r['arch']!r} is not a "
                                     f"nb101 architecture ({e}){B.line_note(rows.lines, k)}") from None
    acc = B.accuracies(rows, "val_accuracy", path)
    # NASLib sampled random matrices: rows that prune to one cell are one network, each row one
    # of its training runs; they become one row with their mean accuracy (as the shipped table)
    merged = {}
    for arch, a in zip(archs, acc):
        merged.setdefault(arch, []).append(float(a))
    if len(merged) < len(archs):
        import logging

        logging.getLogger("eznas.spaces").info(f"{path}: {len(archs)} rows are {len(merged)} distinct cells; "
                                               "repeated cells take the mean of their rows' accuracies")
    return B.GroundTruth("nb101", dataset, list(merged), np.array([np.mean(v) for v in merged.values()]), {}, {},
                         str(path), rows.lines if len(merged) == len(archs) else None)


def _is_naslib(path):
    import gzip

    if not os.path.exists(path) or not str(path).endswith((".csv", ".csv.gz")):
        return False
    with (gzip.open(path, "rt") if str(path).endswith(".gz") else open(path)) as f:
        return "val_accuracy" in f.readline().strip().split(",")


def _ground_truth(dataset, path=None):
    """The shipped table (eznas/data/SOURCES.md) when no file is given; else a
    NAS-Bench-Suite-Zero CSV (``arch,val_accuracy,...``) or a portable table (``arch`` as
    canonical ids, ``accuracy`` or ``accuracy_<dataset>``).  Nothing is unpickled."""
    from eznas.spaces import benchmarks as B

    if not path:
        return B.load_table(os.path.join(B.PACKAGE_DATA, "nb101.csv.gz"), "nb101", dataset)
    return load_naslib_csv(path, dataset) if _is_naslib(path) else B.load_table(path, "nb101", dataset)


# statistics of each layer's first 32 channels (stats_cache.schema): its 128 to 512-channel layers at
# 32 x 32 would otherwise record 100-400 MB per network (BENCHMARKS.md, "Real spaces")
MAX_CHANNELS = 32

register(SearchSpace(
    name="nb101",
    description="NAS-Bench-101: 423,624 cells of up to 7 vertices and 9 edges (conv3x3 / conv1x1 / maxpool3x3) "
                "in a fixed skeleton (stem 128, 3 stacks of 3 cells); Conv-BN-ReLU",
    build=build, check=check, datasets=("cifar10",), ground_truth=_ground_truth,
    neighbours=neighbours, pattern="cbr", max_channels=MAX_CHANNELS))
