"""Shape checks: from the per-layer (slice) shapes of an op's operands alone, the slice
shape it returns or the OpError it raises.

The ops run these checks before computing, and each op's shape rule (``Op.shape``, built
from them in opset.registry) runs the same ones, so a rule and its op agree on what is an
error.  The interpreter uses the rules to reject a program on a network's layer
shapes before doing any arithmetic (``eznas.program.infer``): whether an op fails depends
only on shapes, and most failing programs used to spend their time computing the operands
of the op that fails.
"""
import math

from opset.errors import OpError


def broadcast(sa, sb, what):
    """Per-slice broadcast shape of two operands; OpError when they do not broadcast or
    would broadcast to a larger tensor than either (an outer product)."""
    try:
        out = broadcast_plain(sa, sb)
    except ValueError:
        raise OpError(f"{what}: shapes {tuple(sa)} and {tuple(sb)} do not broadcast") from None
    if math.prod(out) > max(math.prod(sa), math.prod(sb)):
        raise OpError(f"{what}: shapes {tuple(sa)} and {tuple(sb)} would broadcast to a larger tensor "
                      f"{out} (outer product)")
    return out


def square_matrices(s, what):
    """Batch shape of a slice of square matrices (last two dims)."""
    if len(s) < 2 or s[-1] != s[-2]:
        raise OpError(f"{what}: needs square matrices in the last two dims per layer, got {tuple(s)}")
    return tuple(s[:-2])


def at_least_1d(s, what):
    if len(s) == 0:
        raise OpError(f"{what}: needs at least a 1-D tensor per layer, got a scalar")
    return tuple(s)


def matmul_shape(sa, sb):
    """torch.matmul's result shape per slice, with the engine's errors."""
    if not sa or not sb:
        raise OpError("matmul: needs at least 1-D tensors per layer, got a scalar")
    if sa[-1] != (sb[0] if len(sb) == 1 else sb[-2]):
        raise OpError(f"matmul: inner dimensions of {tuple(sa)} and {tuple(sb)} differ")
    if len(sa) == 1 and len(sb) == 1:
        return ()
    ma = (1,) + tuple(sa) if len(sa) == 1 else tuple(sa)
    mb = tuple(sb) + (1,) if len(sb) == 1 else tuple(sb)
    try:
        batch = broadcast_plain(ma[:-2], mb[:-2])
    except ValueError:
        raise OpError(f"matmul: batch shapes {ma[:-2]} and {mb[:-2]} do not broadcast") from None
    out = batch + (ma[-2], mb[-1])
    if len(sa) == 1:
        return out[:-2] + out[-1:]
    if len(sb) == 1:
        return out[:-1]
    return out


def broadcast_plain(sa, sb):
    """numpy/torch broadcasting of two shapes (no size limit); ValueError otherwise."""
    n = max(len(sa), len(sb))
    pa, pb = (1,) * (n - len(sa)) + tuple(sa), (1,) * (n - len(sb)) + tuple(sb)
    out = []
    for x, y in zip(pa, pb):
        if x != y and x != 1 and y != 1:
            raise ValueError(f"{sa} and {sb} do not broadcast")
        out.append(y if x == 1 else x)
    return tuple(out)
