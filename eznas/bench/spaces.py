"""The built-in benchmark's search spaces (1-channel 8x8 inputs, 10 classes).

- ``bench_nb201``: every NAS-Bench-201 cell, at C=8 with one cell per stage
  (widths 8 / 16 / 32); ids are NB201 architecture strings.
- ``bench_nb201_noisy``: the same cells and widths on a second task, digits under strong
  Gaussian pixel noise (see eznas.bench.data);
- ``bench_sss``: NATS-Bench-SSS-style width configurations ``"w1:w2:w3:w4:w5"`` with widths
  from 4..32 (step 4), around the NB201 cell that NATS-Bench SSS uses;
- ``bench_sss_noisy``: the same width configurations on the noisy-digits task.
"""
from eznas.spaces import nb201
from eznas.spaces.encoding import format_widths, from_index, parse_widths
from eznas.spaces.init import eznas_init
from eznas.spaces.nb201_ops import TinyNetwork
from eznas.spaces.registry import register

SSS_CHOICES = (4, 8, 12, 16, 20, 24, 28, 32)
SSS_CELL = nb201.BEST_CIFAR10


def build_bench_nb201(arch, num_classes=10, in_channels=1, C=8, init=True):
    channels = [C, 2 * C, 2 * C, 4 * C, 4 * C]
    net = TinyNetwork(nb201.cell_edges(arch), channels, [False, True, False, True, False], num_classes, in_channels)
    return eznas_init(net) if init else net


def sss_parse(cfg):
    return list(parse_widths(cfg, SSS_CHOICES, 5, "bench_sss"))


def sss_config(idx):
    return format_widths(from_index(idx, SSS_CHOICES, 5, "bench_sss"))


def build_bench_sss(cfg, num_classes=10, in_channels=1, init=True):
    net = TinyNetwork(nb201.cell_edges(SSS_CELL), sss_parse(cfg), [False, True, False, True, False], num_classes, in_channels)
    return eznas_init(net) if init else net


register("bench_nb201", build_bench_nb201)
register("bench_nb201_noisy", build_bench_nb201)
register("bench_sss", build_bench_sss)
register("bench_sss_noisy", build_bench_sss)
