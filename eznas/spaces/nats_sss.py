"""NATS-Bench size search space (SSS): the best NAS-Bench-201 CIFAR-10 cell in a skeleton
of 5 layers (cell, reduction block, cell, reduction block, cell) whose widths are chosen
from 8, 16, ..., 64; configurations are written ``"8:16:32:48:64"`` (32,768 of them).
Indices follow the NATS-Bench order: base 8, first layer slowest."""
from eznas.spaces.init import eznas_init
from eznas.spaces.nb201 import BEST_CIFAR10, cell_edges
from eznas.spaces.nb201_ops import TinyNetwork

CHOICES = (8, 16, 24, 32, 40, 48, 56, 64)
N_ARCHS = len(CHOICES) ** 5


def parse(config):
    try:
        widths = tuple(int(c) for c in str(config).split(":"))
    except ValueError:
        raise ValueError(f"not a NATS-Bench SSS channel config: {config!r}") from None
    if len(widths) != 5 or any(w not in CHOICES for w in widths):
        raise ValueError(f"NATS-Bench SSS config needs 5 widths from {CHOICES}: {config!r}")
    return widths


def index(config):
    idx = 0
    for w in parse(config):
        idx = idx * 8 + CHOICES.index(w)
    return idx


def config(idx):
    if not 0 <= idx < N_ARCHS:
        raise ValueError(f"NATS-Bench SSS index must be in [0, {N_ARCHS}), got {idx}")
    ws = []
    for _ in range(5):
        idx, r = divmod(idx, 8)
        ws.append(CHOICES[r])
    return ":".join(str(w) for w in reversed(ws))


def build(cfg, num_classes=10, in_channels=3, cell=BEST_CIFAR10, init=True):
    widths = parse(cfg)
    reductions = [False, True, False, True, False]
    net = TinyNetwork(cell_edges(cell), list(widths), reductions, num_classes, in_channels)
    return eznas_init(net) if init else net
