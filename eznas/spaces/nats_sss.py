"""NATS-Bench size search space (SSS): the best NAS-Bench-201 CIFAR-10 cell in a skeleton
of 5 layers (cell, reduction block, cell, reduction block, cell) whose widths are chosen
from 8, 16, ..., 64; configurations are written ``"8:16:32:48:64"`` (32,768 of them).
Indices follow the NATS-Bench order: base 8, first layer slowest."""
from eznas.spaces.encoding import format_widths, from_index, one_change, parse_widths, to_index
from eznas.spaces.init import eznas_init
from eznas.spaces.nb201 import BEST_CIFAR10, cell_edges
from eznas.spaces.nb201_ops import TinyNetwork
from eznas.spaces.registry import register
from eznas.spaces.space import SearchSpace

CHOICES = (8, 16, 24, 32, 40, 48, 56, 64)
N_ARCHS = len(CHOICES) ** 5


def parse(config):
    return parse_widths(config, CHOICES, 5, "NATS-Bench SSS")


def index(config):
    return to_index(parse(config), CHOICES)


def config(idx):
    return format_widths(from_index(idx, CHOICES, 5, "NATS-Bench SSS"))


def neighbours(cfg):
    """The configurations that differ from ``cfg`` in one layer's width."""
    return [format_widths(w) for w in one_change(parse(cfg), CHOICES)]


def build(cfg, num_classes=10, in_channels=3, cell=BEST_CIFAR10, init=True):
    widths = parse(cfg)
    reductions = [False, True, False, True, False]
    net = TinyNetwork(cell_edges(cell), list(widths), reductions, num_classes, in_channels)
    return eznas_init(net) if init else net


def _ground_truth(dataset, path=None):
    from eznas.spaces import benchmarks as B

    if not path:
        raise ValueError("--ground-truth PATH is needed for space 'nats_sss' (a table or the official NATS-Bench file)")
    return B.load_table(path, "nats_sss", dataset) if B.is_table(path) else B.load_nats_sss_official(path, dataset)


register(SearchSpace(
    name="nats_sss", description="NATS-Bench size space: widths 8..64 of 5 layers around the best NB201 cell",
    build=build, check=parse, datasets=("cifar10", "cifar100", "imagenet16-120"), ground_truth=_ground_truth,
    size=N_ARCHS, arch_of=config, neighbours=neighbours))
