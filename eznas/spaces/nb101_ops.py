"""Torch modules of NAS-Bench-101 networks (Conv-BN-ReLU ordering).

A cell is a DAG given by an upper-triangular adjacency matrix over vertices
0 (input) .. n-1 (output) and one op per interior vertex.  As the benchmark defines it:

- interior vertices that feed the output split the output channels between them (the first
  ones in vertex order take one extra channel when the split is uneven); every other
  interior vertex has as many channels as the widest vertex it feeds;
- a vertex sums its inputs: edges from the cell input go through their own 1x1
  Conv-BN-ReLU projection to the vertex's width, edges from interior vertices keep the
  first channels of the source (at most one is dropped);
- the output concatenates the interior vertices that feed it and adds a 1x1 projection of
  the cell input when the input feeds the output directly (a cell of input -> output only
  is that projection).

Batch norm follows the benchmark's TensorFlow settings: decay 0.997 (PyTorch momentum
0.003) and epsilon 1e-5.  Every Conv-BN-ReLU has its own ``nn.ReLU`` module, so the layer
finder (``stats_cache.layers``, pattern "cbr") sees each one.
"""
import torch
import torch.nn as nn

BN_MOMENTUM = 1.0 - 0.997  # TensorFlow's moving-average decay 0.997, in PyTorch's convention
BN_EPS = 1e-5
OPS = ("conv3x3", "conv1x1", "maxpool3x3")


class ConvBNReLU(nn.Sequential):
    def __init__(self, c_in, c_out, kernel):
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, stride=1, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out, eps=BN_EPS, momentum=BN_MOMENTUM),
            nn.ReLU(inplace=False),
        )


def make_op(name, channels):
    """The op of an interior vertex; its input and output have ``channels`` channels."""
    if name == "conv3x3":
        return ConvBNReLU(channels, channels, 3)
    if name == "conv1x1":
        return ConvBNReLU(channels, channels, 1)
    if name == "maxpool3x3":
        return nn.MaxPool2d(3, stride=1, padding=1)
    raise ValueError(f"unknown NAS-Bench-101 op {name!r}; expected one of {OPS}")


def vertex_channels(c_in, c_out, matrix):
    """Channels of each vertex of a pruned cell (see the module docstring)."""
    n = len(matrix)
    out = n - 1
    channels = [c_in] + [0] * (n - 2) + [c_out]
    feeders = [v for v in range(1, out) if matrix[v][out]]
    if n == 2:
        return channels
    if not feeders:
        raise ValueError("a pruned cell with interior vertices must have one that feeds the output")
    base, extra = divmod(c_out, len(feeders))
    for k, v in enumerate(feeders):
        channels[v] = base + (1 if k < extra else 0)
    for v in range(out - 1, 0, -1):  # the others: the widest interior vertex they feed
        if not matrix[v][out]:
            channels[v] = max(channels[d] for d in range(v + 1, out) if matrix[v][d])
    return channels


def _sum(tensors):
    total = tensors[0]
    for t in tensors[1:]:
        total = total + t
    return total


class Cell(nn.Module):
    def __init__(self, matrix, ops, c_in, c_out):
        super().__init__()
        self.matrix = [list(map(int, row)) for row in matrix]
        n = len(self.matrix)
        if len(ops) != n - 2:
            raise ValueError(f"a cell of {n} vertices needs {n - 2} ops, got {len(ops)}")
        self.channels = vertex_channels(c_in, c_out, self.matrix)
        self.ops = nn.ModuleList(make_op(op, self.channels[v]) for v, op in enumerate(ops, start=1))
        # one 1x1 projection per edge leaving the input, keyed by the vertex it feeds
        self.proj = nn.ModuleDict({str(v): ConvBNReLU(c_in, self.channels[v], 1)
                                   for v in range(1, n) if self.matrix[0][v]})

    def forward(self, x):
        m, n = self.matrix, len(self.matrix)
        out = n - 1
        states = [x]
        for v in range(1, out):
            ins = [states[s][:, :self.channels[v]] if states[s].shape[1] > self.channels[v] else states[s]
                   for s in range(1, v) if m[s][v]]
            if m[0][v]:
                ins.append(self.proj[str(v)](x))
            states.append(self.ops[v - 1](_sum(ins)))
        concat = [states[v] for v in range(1, out) if m[v][out]]
        if not concat:
            return self.proj[str(out)](x)
        y = concat[0] if len(concat) == 1 else torch.cat(concat, dim=1)
        if m[0][out]:
            y = y + self.proj[str(out)](x)
        return y


class Network(nn.Module):
    """Stem Conv3x3-BN-ReLU, ``stacks`` stacks of ``cells_per_stack`` cells with a 2x2 max
    pool (and doubled channels) before every stack but the first, global average pool, a
    dense layer."""

    def __init__(self, matrix, ops, num_classes=10, in_channels=3, stem_channels=128, stacks=3, cells_per_stack=3):
        super().__init__()
        self.stem = ConvBNReLU(in_channels, stem_channels, 3)
        layers, c = [], stem_channels
        c_prev = c
        for s in range(stacks):
            if s > 0:
                # TensorFlow's 'same' 2x2/2 pooling keeps ceil(H/2) rows: ceil_mode does the same
                layers.append(nn.MaxPool2d(2, stride=2, ceil_mode=True))
                c *= 2
            for _ in range(cells_per_stack):
                layers.append(Cell(matrix, ops, c_prev, c))
                c_prev = c
        self.layers = nn.Sequential(*layers)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.classifier(torch.flatten(self.gap(x), 1))
