"""NAS-Bench-201: architecture strings, indices and networks.

A cell has 6 edges in the order (1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2), each one of
``OP_NAMES``; the string form is ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``.

Indices: the official benchmark numbers its 15,625 cells in its own (training) order, which
comes with the benchmark files; ``benchmarks.load_nb201`` reads it and its rows map
both ways.  Without those files, ``product_index`` numbers cells in base 5 over the edge
order above (ops in ``OP_NAMES`` order, last edge fastest).
"""
import os

from eznas.spaces.encoding import from_index, one_change, to_index
from eznas.spaces.init import eznas_init
from eznas.spaces.nb201_ops import OP_NAMES, TinyNetwork
from eznas.spaces.registry import register
from eznas.spaces.space import SearchSpace

N_ARCHS = 5 ** 6
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
BEST_CIFAR10 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def parse(arch):
    """String -> tuple of 6 op names in EDGES order; ValueError naming the problem."""
    if not isinstance(arch, str) or not arch.startswith("|") or not arch.endswith("|"):
        raise ValueError(f"not a NAS-Bench-201 architecture string: {arch!r}")
    nodes = arch.split("+")
    if len(nodes) != 3:
        raise ValueError(f"NAS-Bench-201 string needs 3 nodes separated by '+': {arch!r}")
    ops = []
    for i, node in enumerate(nodes, start=1):
        parts = [p for p in node.strip("|").split("|")]
        if len(parts) != i:
            raise ValueError(f"node {i} of {arch!r} must have {i} inputs, has {len(parts)}")
        for j, p in enumerate(parts):
            op, _, src = p.partition("~")
            if op not in OP_NAMES or src != str(j):
                raise ValueError(f"bad edge {p!r} in {arch!r}: expected <op>~{j} with op in {OP_NAMES}")
            ops.append(op)
    if format_ops(ops) != arch:  # one network, one id: a second spelling would pass as another network
        raise ValueError(f"{arch!r} is not in canonical form; write it as {format_ops(ops)!r}")
    return tuple(ops)


def format_ops(ops):
    ops = list(ops)
    if len(ops) != 6:
        raise ValueError(f"a NAS-Bench-201 cell has 6 edges, got {len(ops)}")
    return "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*ops)


def product_index(arch):
    return to_index(parse(arch), OP_NAMES)


def product_string(index):
    return format_ops(from_index(index, OP_NAMES, 6, "NAS-Bench-201"))


def neighbours(arch):
    """The 24 cells that differ from ``arch`` in one edge's operation."""
    return [format_ops(ops) for ops in one_change(parse(arch), OP_NAMES)]


def cell_edges(arch):
    """Per node, the list of (op, source node) for TinyNetwork."""
    ops = parse(arch)
    return [[(ops[k], j) for k, (i, j) in enumerate(EDGES) if i == node] for node in (1, 2, 3)]


def build(arch, C=16, N=5, num_classes=10, in_channels=3, init=True):
    """The NAS-Bench-201 macro skeleton: stem, 3 stages of N cells (C, 2C, 4C) joined by
    residual reduction blocks, then BN-ReLU-GAP-Linear."""
    channels = [C] * N + [2 * C] + [2 * C] * N + [4 * C] + [4 * C] * N
    reductions = [False] * N + [True] + [False] * N + [True] + [False] * N
    net = TinyNetwork(cell_edges(arch), channels, reductions, num_classes, in_channels)
    return eznas_init(net) if init else net


def _ground_truth(dataset, path=None):
    """The accuracy table shipped in the package (eznas/data/SOURCES.md) when no file is
    given; else the NB201 CSV, a portable table or the official file."""
    from eznas.spaces import benchmarks as B

    if not path:
        return B.load_nb201_csv(os.path.join(B.PACKAGE_DATA, "nb201.csv.gz"), dataset)
    return B.load_any_table(path, "nb201", dataset) if B.is_table(path) else B.load_nb201_official(path, dataset)


register(SearchSpace(
    name="nb201", description="NAS-Bench-201: 15,625 cells of 6 edges in a fixed skeleton (C=16, N=5)",
    build=build, check=parse, datasets=("cifar10", "cifar100", "imagenet16-120"), ground_truth=_ground_truth,
    size=N_ARCHS, arch_of=product_string, neighbours=neighbours))
