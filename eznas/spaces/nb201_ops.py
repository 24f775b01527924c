"""Building blocks of NAS-Bench-201 / NATS-Bench networks (ReLU-Conv-BN ordering)."""
import torch
import torch.nn as nn

OP_NAMES = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in, c_out, kernel, stride, padding):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out),
        )


class Zero(nn.Module):
    def __init__(self, c_out):
        super().__init__()
        self.c_out = c_out

    def forward(self, x):
        shape = (x.shape[0], self.c_out) + tuple(x.shape[2:])
        return x.new_zeros(shape)


class ChannelChange(nn.Module):
    """skip_connect between different widths (NATS-Bench SSS): 1x1 conv + BN."""

    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        return self.bn(self.conv(x))


class AvgPool(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.pre = ReLUConvBN(c_in, c_out, 1, 1, 0) if c_in != c_out else None
        self.pool = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)

    def forward(self, x):
        return self.pool(self.pre(x) if self.pre is not None else x)


def make_op(name, c_in, c_out):
    if name == "none":
        return Zero(c_out)
    if name == "skip_connect":
        return nn.Identity() if c_in == c_out else ChannelChange(c_in, c_out)
    if name == "nor_conv_1x1":
        return ReLUConvBN(c_in, c_out, 1, 1, 0)
    if name == "nor_conv_3x3":
        return ReLUConvBN(c_in, c_out, 3, 1, 1)
    if name == "avg_pool_3x3":
        return AvgPool(c_in, c_out)
    raise ValueError(f"unknown NAS-Bench-201 op {name!r}; expected one of {OP_NAMES}")


class Cell(nn.Module):
    """Four nodes; node i = sum over j < i of op(i, j)(node j)."""

    def __init__(self, edges, c_in, c_out):
        super().__init__()
        self.edges = nn.ModuleList()
        self.index = []
        for i, node in enumerate(edges, start=1):
            for op, j in node:
                self.edges.append(make_op(op, c_in if j == 0 else c_out, c_out))
                self.index.append((i, j))

    def forward(self, x):
        nodes = [x]
        for i in range(1, 4):
            nodes.append(sum(op(nodes[j]) for op, (k, j) in zip(self.edges, self.index) if k == i))
        return nodes[-1]


class ResBlock(nn.Module):
    """Residual reduction block between stages (stride 2)."""

    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, stride=2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x):
        return self.conv_b(self.conv_a(x)) + self.downsample(x)


class TinyNetwork(nn.Module):
    """Stem, then per layer a cell or a residual reduction block, then BN-ReLU-GAP-Linear."""

    def __init__(self, edges, channels, reductions, num_classes, in_channels=3):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels[0], 3, padding=1, bias=False), nn.BatchNorm2d(channels[0]))
        layers, c_prev = [], channels[0]
        for c, red in zip(channels, reductions):
            layers.append(ResBlock(c_prev, c) if red else Cell(edges, c_prev, c))
            c_prev = c
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=False))
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x):
        x = self.lastact(self.cells(self.stem(x)))
        return self.classifier(torch.flatten(self.gap(x), 1))
