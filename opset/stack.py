"""Helpers for the stacked-operand convention (leading axis = one slice per layer)."""
import torch

from opset.errors import OpError
from opset.shapes import at_least_1d, broadcast


def check_stack(x):
    if not isinstance(x, torch.Tensor):
        raise OpError(f"operand must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 1:
        raise OpError("operand has no stack axis: stacked tensors are at least 1-D (L, ...)")
    return x


def slice_shape(x):
    return tuple(x.shape[1:])


def fdtype(x):
    return x.dtype if x.is_floating_point() else torch.get_default_dtype()


def pad_to(x, ndim):
    """View ``x`` (L, *s) as (L, 1, ..., 1, *s) with ``ndim`` per-slice dims."""
    s = slice_shape(x)
    return x.reshape(x.shape[0], *([1] * (ndim - len(s))), *s)


def align(a, b, what):
    """Give two stacks the same per-slice rank, checking per-slice broadcast."""
    check_stack(a)
    check_stack(b)
    if a.shape[0] != b.shape[0]:
        raise OpError(f"{what}: stacks of different length {a.shape[0]} and {b.shape[0]}")
    shape = broadcast(slice_shape(a), slice_shape(b), what)
    n = len(shape)
    return pad_to(a, n), pad_to(b, n), shape


def flat(x):
    """(L, numel-per-slice) view."""
    return x.reshape(x.shape[0], -1)


def rows(x, what):
    """(L, n, m): each slice reshaped to (first dim, rest), as ``A.reshape(n, -1)``."""
    s = at_least_1d(slice_shape(x), what)
    return x.reshape(x.shape[0], s[0], -1)


def finite_matrices(m):
    """(m with every non-finite matrix replaced by the identity, mask of finite ones, or
    None when all are finite).

    LAPACK routines behind torch.linalg can crash the process (not raise) on NaN input, so
    non-finite matrices never reach them; callers set those results to NaN."""
    if bool(torch.isfinite(m.sum())):  # a non-finite entry makes the sum non-finite
        return m, None
    ok = torch.isfinite(m).flatten(-2).all(-1)
    eye = torch.eye(m.shape[-1], dtype=m.dtype, device=m.device).expand_as(m)
    return torch.where(ok[..., None, None], m, eye), ok


def nan_where_not(ok, value):
    """``value`` with NaN wherever ``ok`` (broadcast over trailing dims) is False; ``value``
    itself when ``ok`` is None (all finite)."""
    if ok is None:
        return value
    ok = ok.reshape(ok.shape + (1,) * (value.dim() - ok.dim()))
    return torch.where(ok, value, torch.full_like(value, float("nan")))
