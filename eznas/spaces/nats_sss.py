"""NATS-Bench size search space (SSS): the best NAS-Bench-201 CIFAR-10 cell in a skeleton
of 5 layers (cell, reduction block, cell, reduction block, cell) whose widths are chosen
from 8, 16, ..., 64; configurations are written ``"8:16:32:48:64"`` (32,768 of them).
Indices follow the NATS-Bench order: base 8, first layer slowest."""
from eznas.spaces.encoding import format_widths, from_index, parse_widths, to_index
from eznas.spaces.init import eznas_init
from eznas.spaces.nb201 import BEST_CIFAR10, cell_edges
from eznas.spaces.nb201_ops import TinyNetwork

CHOICES = (8, 16, 24, 32, 40, 48, 56, 64)
N_ARCHS = len(CHOICES) ** 5


def parse(config):
    return parse_widths(config, CHOICES, 5, "NATS-Bench SSS")


def index(config):
    return to_index(parse(config), CHOICES)


def config(idx):
    return format_widths(from_index(idx, CHOICES, 5, "NATS-Bench SSS"))


def build(cfg, num_classes=10, in_channels=3, cell=BEST_CIFAR10, init=True):
    widths = parse(cfg)
    reductions = [False, True, False, True, False]
    net = TinyNetwork(cell_edges(cell), list(widths), reductions, num_classes, in_channels)
    return eznas_init(net) if init else net
