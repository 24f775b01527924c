"""Building blocks of TransNAS-Bench-101 networks (Duan et al., CVPR 2021), written from the
benchmark's published definition (ReLU-Conv-BN ordering throughout).

- stem: Conv3x3/2 (in -> C/2) - BN, then ReLU-Conv3x3/2-BN (C/2 -> C): input / 4;
- a stage is two blocks; its first block changes the shape (stride 2 and/or twice the
  channels), the second keeps it;
- macro block: the ResNet basic block ReLU-Conv3x3-BN, ReLU-Conv3x3-BN plus a shortcut
  (identity, or Conv1x1 with the block's stride - BN when the shape changes);
- micro block: a 4-node cell, node i = sum over j < i of op(i, j)(node j); the edges
  leaving the cell input carry the block's stride and channel change;
- head: global average pooling, flatten, Linear.

Every ``nn.ReLU`` module here runs once per forward pass, so ``stats_cache.layers`` finds
each ReLU-Conv2d-BatchNorm2d by its own data flow.
"""
import torch
import torch.nn as nn

MICRO_OPS = ("none", "skip_connect", "conv_1x1", "conv_3x3")  # TransNAS-Bench-101 micro digits 0..3


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in, c_out, kernel, stride):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


class Zero(nn.Module):
    """The 'none' edge: zeros of the edge's output shape (ceil(H / stride) like the convs)."""

    def __init__(self, c_out, stride):
        super().__init__()
        self.c_out, self.stride = c_out, stride

    def forward(self, x):
        h, w = x.shape[2:]
        s = self.stride
        return x.new_zeros((x.shape[0], self.c_out, (h + s - 1) // s, (w + s - 1) // s))


class FactorizedReduce(nn.Module):
    """A skip edge that changes the shape: ReLU, two 1x1 convolutions with the stride (the
    second on the input shifted by one pixel), concatenated to c_out channels, BN."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even channel count, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        half = c_out // 2
        self.conv_a = nn.Conv2d(c_in, half, 1, stride=stride, bias=False)
        self.conv_b = nn.Conv2d(c_in, c_out - half, 1, stride=stride, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        x = self.relu(x)
        shifted = nn.functional.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_a(x), self.conv_b(shifted)], dim=1))


def micro_op(digit, c_in, c_out, stride):
    name = MICRO_OPS[digit]
    if name == "none":
        return Zero(c_out, stride)
    if name == "skip_connect":
        return nn.Identity() if stride == 1 and c_in == c_out else FactorizedReduce(c_in, c_out, stride)
    return ReLUConvBN(c_in, c_out, 1 if name == "conv_1x1" else 3, stride)


class MicroCell(nn.Module):
    """``ops``: 6 digits for the edges (1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2)."""

    EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))

    def __init__(self, ops, c_in, c_out, stride):
        super().__init__()
        self.edges = nn.ModuleList(
            micro_op(d, c_in, c_out, stride) if j == 0 else micro_op(d, c_out, c_out, 1)
            for d, (i, j) in zip(ops, self.EDGES))

    def forward(self, x):
        nodes = [x]
        for node in (1, 2, 3):
            nodes.append(sum(op(nodes[j]) for op, (i, j) in zip(self.edges, self.EDGES) if i == node))
        return nodes[-1]


class BasicBlock(nn.Module):
    """ResNet basic block in ReLU-Conv-BN order; shortcut Conv1x1(stride)-BN when the shape
    changes."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1)
        self.shortcut = None
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        res = x if self.shortcut is None else self.shortcut(x)
        return self.conv_b(self.conv_a(x)) + res


class TNBNetwork(nn.Module):
    """Stem, one stage of two blocks per macro digit, then the classification head.

    ``stages``: macro digits 1..4 (1 keep, 2 twice the channels, 3 half the resolution,
    4 both); ``block(c_in, c_out, stride)`` makes one block."""

    def __init__(self, stages, block, base=64, num_classes=75, in_channels=3, blocks_per_stage=2):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, base // 2, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(base // 2),
            ReLUConvBN(base // 2, base, 3, 2),
        )
        layers, c = [], base
        for digit in stages:
            c_out = 2 * c if digit in (2, 4) else c
            stride = 2 if digit in (3, 4) else 1
            blocks = [block(c, c_out, stride)] + [block(c_out, c_out, 1) for _ in range(blocks_per_stage - 1)]
            layers.append(nn.Sequential(*blocks))
            c = c_out
        self.stages = nn.Sequential(*layers)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x):
        x = self.stages(self.stem(x))
        return self.classifier(torch.flatten(self.gap(x), 1))
