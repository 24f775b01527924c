"""The one record of a search space: everything the engine needs to know about it.

A space module defines its networks and calls ``registry.register(SearchSpace(...))``;
every other part of the engine (collection, scoring, the CLI's choices, the built-in
benchmark, held-out tests) asks the registry.  Adding a space is one new module in
``eznas/spaces/`` (the registry finds it) and its tests.
"""
import random
from dataclasses import dataclass
from typing import Callable, Optional


def cifar_size(dataset):
    """Input size of the NB201-style benchmarks: 16 px for ImageNet16-120, else 32."""
    return 16 if dataset and dataset.lower().startswith("imagenet16") else 32


@dataclass(frozen=True)
class SearchSpace:
    name: str
    description: str
    build: Callable  # build(arch, num_classes=10, in_channels=3) -> a freshly initialised nn.Module
    check: Callable  # check(arch): raises ValueError (or KeyError / TypeError) when arch is not of this space
    datasets: tuple  # datasets with ground truth; the first is the default
    ground_truth: Callable  # ground_truth(dataset, path or None) -> benchmarks.GroundTruth
    channels: int = 3
    input_size: Callable = cifar_size  # dataset -> spatial size of the inputs
    default_data: str = "photos"  # the batch D's source (eznas.inputs.load_batch)
    size: int = 0  # number of architectures, when they can be enumerated
    arch_of: Optional[Callable] = None  # index in [0, size) -> architecture id
    recipe: Optional[dict] = None  # built-in spaces: how their networks are trained (eznas.bench.train)
    neighbours: Optional[Callable] = None  # arch -> the architectures one choice away (eznas nas mutates in it)
    pattern: str = "rcb"  # the layer block its networks are built of: ReLU-Conv-BN ("rcb") or Conv-BN-ReLU ("cbr")
    max_channels: Optional[int] = None  # collections record each layer's first N channels (stats_cache.schema)

    @property
    def builtin(self):
        return self.recipe is not None

    def input_shape(self, dataset=None):
        """(channels, size) of the inputs the space's networks take on ``dataset``."""
        return self.channels, self.input_size(dataset)

    def sample(self, n, seed):
        """``n`` distinct architectures, in a fixed order for ``seed`` (enumerable spaces)."""
        if not self.arch_of:
            raise ValueError(f"space {self.name!r} cannot be sampled without a ground-truth file")
        return [self.arch_of(i) for i in random.Random(seed).sample(range(self.size), n)]
