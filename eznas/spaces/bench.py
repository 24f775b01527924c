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
from eznas.spaces.encoding import format_widths, from_index, one_change, parse_widths
from eznas.spaces.init import eznas_init
from eznas.spaces.nb201_ops import TinyNetwork
from eznas.spaces.registry import register
from eznas.spaces.space import SearchSpace

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


def sss_neighbours(cfg):
    return [format_widths(w) for w in one_change(sss_parse(cfg), SSS_CHOICES)]


def build_bench_sss(cfg, num_classes=10, in_channels=1, init=True):
    net = TinyNetwork(nb201.cell_edges(SSS_CELL), sss_parse(cfg), [False, True, False, True, False], num_classes, in_channels)
    return eznas_init(net) if init else net


# how each built-in space's networks are trained (eznas.bench.train); "noise": std of the
# fresh Gaussian noise added to each training batch
RECIPES = {
    "bench_nb201": {"epochs": 12, "batch": 64, "lr": 0.05, "optim": "sgd", "noise": 0.0},
    "bench_nb201_noisy": {"epochs": 10, "batch": 32, "lr": 0.05, "optim": "sgd", "noise": 1.0},
    "bench_sss": {"epochs": 12, "batch": 64, "lr": 0.05, "optim": "sgd", "noise": 0.0},
    "bench_sss_noisy": {"epochs": 12, "batch": 64, "lr": 0.05, "optim": "sgd", "noise": 1.0},
}


def _ground_truth_of(name):
    def ground_truth(dataset, path=None):
        import os

        from eznas.spaces import benchmarks as B

        return B.load_table(path or os.path.join(B.PACKAGE_DATA, f"{name}.csv"), name, dataset)
    return ground_truth


def _sss_check(cfg):
    sss_parse(cfg)


for _name, _build, _check, _size, _arch_of, _nbrs, _what in (
        ("bench_nb201", build_bench_nb201, nb201.parse, nb201.N_ARCHS, nb201.product_string, nb201.neighbours,
         "every NB201 cell at C=8"),
        ("bench_sss", build_bench_sss, _sss_check, len(SSS_CHOICES) ** 5, sss_config, sss_neighbours,
         "widths 4..32 around the best NB201 cell")):
    for _task, _data in (("", "digits"), ("_noisy", "digits_noisy")):
        register(SearchSpace(
            name=_name + _task, description=f"built-in: {_what}, trained on {_data.replace('_', ' ')} (eznas/data/{_name + _task}.csv)",
            build=_build, check=_check, datasets=("digits",), ground_truth=_ground_truth_of(_name + _task),
            channels=1, input_size=lambda dataset: 8, default_data=_data, size=_size, arch_of=_arch_of,
            recipe=RECIPES[_name + _task], neighbours=_nbrs))
