"""Operations of the NDS CIFAR-10 cell spaces (DARTS, Amoeba, ENAS, PNAS, NASNet)."""
import torch
import torch.nn as nn


def _rcb(c_in, c_out, k, stride, pad, dilation=1, groups=1):
    return [nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, k, stride=stride, padding=pad, dilation=dilation, groups=groups, bias=False)]


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in, c_out, k, stride, pad):
        super().__init__(*_rcb(c_in, c_out, k, stride, pad), nn.BatchNorm2d(c_out))


class DilConv(nn.Sequential):
    """ReLU, depthwise (dilated) conv, pointwise conv, BN."""

    def __init__(self, c, k, stride, pad, dilation):
        super().__init__(*_rcb(c, c, k, stride, pad, dilation, c), nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c))


class SepConv(nn.Sequential):
    """Two DilConv-like stacks (the second with stride 1): ReLU-dw-pw-BN twice."""

    def __init__(self, c, k, stride, pad, dilation=1):
        super().__init__(DilConv(c, k, stride, pad, dilation), DilConv(c, k, 1, pad, dilation))


class Factorized(nn.Sequential):
    """ReLU, (1 x k) conv, (k x 1) conv, BN."""

    def __init__(self, c, k, stride):
        p = k // 2
        super().__init__(nn.ReLU(inplace=False),
                         nn.Conv2d(c, c, (1, k), stride=(1, stride), padding=(0, p), bias=False),
                         nn.Conv2d(c, c, (k, 1), stride=(stride, 1), padding=(p, 0), bias=False),
                         nn.BatchNorm2d(c))


class FactorizedReduce(nn.Module):
    """Halve the resolution with two offset 1x1 stride-2 convs, concatenated, then BN."""

    def __init__(self, c_in, c_out):
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even width, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.a = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.b = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        x = self.relu(x)
        shifted = nn.functional.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.a(x), self.b(shifted)], 1))


class Zero(nn.Module):
    def __init__(self, stride):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        return x[:, :, ::self.stride, ::self.stride].mul(0.0)


def make_op(name, c, stride):
    pools = {"avg_pool_2x2": (nn.AvgPool2d, 2, 0), "avg_pool_3x3": (nn.AvgPool2d, 3, 1), "avg_pool_5x5": (nn.AvgPool2d, 5, 2),
             "max_pool_2x2": (nn.MaxPool2d, 2, 0), "max_pool_3x3": (nn.MaxPool2d, 3, 1), "max_pool_5x5": (nn.MaxPool2d, 5, 2),
             "max_pool_7x7": (nn.MaxPool2d, 7, 3)}
    if name in pools:
        cls, k, p = pools[name]
        return cls(k, stride=stride, padding=p, **({"count_include_pad": False} if cls is nn.AvgPool2d else {}))
    if name == "none":
        return Zero(stride)
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c)
    if name in ("conv_1x1", "conv_3x3"):
        k = int(name[-1])
        return ReLUConvBN(c, c, k, stride, k // 2)
    if name.startswith("sep_conv_"):
        k = int(name[-1])
        return SepConv(c, k, stride, k // 2)
    if name.startswith("dil_conv_"):
        k = int(name[-1])
        return DilConv(c, k, stride, k - 1, 2)
    if name == "dil_sep_conv_3x3":
        return SepConv(c, 3, stride, 2, 2)
    if name in ("conv_3x1_1x3", "conv_7x1_1x7"):
        return Factorized(c, int(name[5]), stride)
    raise ValueError(f"unknown NDS op {name!r}")
