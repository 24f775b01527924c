"""NDS CIFAR-10 cell spaces (DARTS, Amoeba, ENAS, PNAS, NASNet): a DARTS-style network
built from a genotype, a width and a depth, as the NDS records describe them.

An architecture is the JSON of an NDS record's ``net``: ``{"genotype": {"normal":
[[op, input], ...], "normal_concat": [...], "reduce": [...], "reduce_concat": [...]},
"width": C, "depth": cells}``.  Network: stem conv 3x3 (3C) + BN; ``depth`` cells, the
ones at depth//3 and 2*depth//3 reducing (stride 2, width doubled); each cell has two
inputs (the previous two cells, preprocessed by a 1x1 ReLU-Conv-BN, or a factorized
reduction after a reduction cell) and nodes that sum two ops of earlier states; its output
concatenates the ``concat`` states; then global pooling and a linear classifier.
"""
import json

import torch
import torch.nn as nn

from eznas.spaces.init import eznas_init
from eznas.spaces.nds_ops import FactorizedReduce, ReLUConvBN, make_op
from eznas.spaces.registry import register
from eznas.spaces.space import SearchSpace



class Cell(nn.Module):
    def __init__(self, ops, indices, concat, c_pp, c_p, c, reduction, reduction_prev):
        super().__init__()
        self.pre0 = FactorizedReduce(c_pp, c) if reduction_prev else ReLUConvBN(c_pp, c, 1, 1, 0)
        self.pre1 = ReLUConvBN(c_p, c, 1, 1, 0)
        if len(ops) % 2:
            raise ValueError("an NDS cell needs two inputs per node (an even number of ops)")
        self.ops = nn.ModuleList(make_op(n, c, 2 if reduction and i < 2 else 1) for n, i in zip(ops, indices))
        self.indices = list(indices)
        self.concat = list(concat)
        if max(self.indices) >= 2 + len(ops) // 2 or max(self.concat) >= 2 + len(ops) // 2:
            raise ValueError("genotype refers to a node that does not exist")

    def forward(self, s0, s1):
        states = [self.pre0(s0), self.pre1(s1)]
        for k in range(0, len(self.ops), 2):
            states.append(self.ops[k](states[self.indices[k]]) + self.ops[k + 1](states[self.indices[k + 1]]))
        return torch.cat([states[i] for i in self.concat], 1)


class NetworkCIFAR(nn.Module):
    def __init__(self, genotype, width, depth, num_classes=10, in_channels=3, stem_multiplier=3):
        super().__init__()
        c = stem_multiplier * width
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        c_pp, c_p, c_cur = c, c, width
        self.cells = nn.ModuleList()
        red_prev = False
        for i in range(depth):
            red = i in (depth // 3, 2 * depth // 3)
            if red:
                c_cur *= 2
            part = "reduce" if red else "normal"
            ops, idx = zip(*genotype[part])
            cell = Cell(ops, idx, genotype[f"{part}_concat"], c_pp, c_p, c_cur, red, red_prev)
            self.cells.append(cell)
            red_prev = red
            c_pp, c_p = c_p, len(cell.concat) * c_cur
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)

    def forward(self, x):
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.classifier(torch.flatten(self.gap(s1), 1))


def parse(arch):
    net = json.loads(arch) if isinstance(arch, str) else dict(arch)
    try:
        g = net["genotype"]
        for part in ("normal", "reduce"):
            g[part] = [(str(op), int(i)) for op, i in g[part]]
            g[f"{part}_concat"] = [int(i) for i in g[f"{part}_concat"]]
        return g, int(net["width"]), int(net["depth"])
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"not an NDS architecture (needs genotype normal/reduce/_concat, width, depth): {e}") from None


def build(arch, num_classes=10, in_channels=3, init=True):
    g, width, depth = parse(arch)
    net = NetworkCIFAR(g, width, depth, num_classes, in_channels)
    return eznas_init(net) if init else net


def _ground_truth_of(name):
    def ground_truth(dataset, path=None):
        from eznas.spaces import benchmarks as B

        if not path:
            raise ValueError(f"--ground-truth PATH is needed for space 'nds_{name}' (the NDS {name.upper()} JSON file)")
        return B.load_nds_json(path, name)
    return ground_truth


for _name in ("darts", "amoeba", "enas", "pnas", "nasnet"):
    register(SearchSpace(name=f"nds_{_name}", description=f"NDS {_name.upper()} cells (CIFAR-10), from the NDS JSON records",
                         build=build, check=parse, datasets=("cifar10",), ground_truth=_ground_truth_of(_name)))
