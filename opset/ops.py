"""The op implementations.  Each takes stacked operands (see ``opset.stack``)
and returns a new tensor; none writes to its inputs.

Per-slice semantics are written in each docstring; "scalar" means a per-layer
scalar (a result of shape (L,)).
"""
import math

import torch
import torch.nn.functional as F

from opset.errors import OpError
from opset.shapes import broadcast_plain, matmul_shape, square_matrices
from opset.stack import align, check_stack, fdtype, finite_matrices, flat, nan_where_not, rows, slice_shape


def _cmp(res, a, b):
    return res.to(torch.promote_types(fdtype(a), fdtype(b)))


# --- binary elementwise (broadcast per slice, OpError otherwise) ---------------
def add(a, b):
    """A + B, broadcast per layer."""
    a, b, _ = align(a, b, "add")
    return a + b


def sub(a, b):
    """A - B, broadcast per layer."""
    a, b, _ = align(a, b, "sub")
    return a - b


def mul(a, b):
    """A * B elementwise, broadcast per layer."""
    a, b, _ = align(a, b, "mul")
    return a * b


def lt(a, b):
    """1.0 where A < B else 0.0."""
    a2, b2, _ = align(a, b, "lt")
    return _cmp(a2 < b2, a, b)


def gt(a, b):
    """1.0 where A > B else 0.0."""
    a2, b2, _ = align(a, b, "gt")
    return _cmp(a2 > b2, a, b)


def eq(a, b):
    """1.0 where A == B else 0.0."""
    a2, b2, _ = align(a, b, "eq")
    return _cmp(a2 == b2, a, b)


def matmul(a, b):
    """torch.matmul per layer: 1-D x 1-D is a dot product; 1-D operands are
    promoted as torch does; batch dims broadcast; scalars raise OpError."""
    check_stack(a)
    check_stack(b)
    if a.shape[0] != b.shape[0]:
        raise OpError("matmul: stacks of different length")
    sa, sb = slice_shape(a), slice_shape(b)
    matmul_shape(sa, sb)  # the engine's errors
    if len(sa) == 1 and len(sb) == 1:
        return (a * b).sum(-1)
    squeeze = None
    if len(sa) == 1:
        a, squeeze = a.unsqueeze(1), -2
    if len(sb) == 1:
        b, squeeze = b.unsqueeze(-1), -1
    ba, bb = tuple(a.shape[1:-2]), tuple(b.shape[1:-2])
    n = len(broadcast_plain(ba, bb))  # broadcasts: checked above
    a = a.reshape(a.shape[0], *([1] * (n - len(ba))), *a.shape[1:])
    b = b.reshape(b.shape[0], *([1] * (n - len(bb))), *b.shape[1:])
    out = torch.matmul(a, b)
    return out.squeeze(squeeze) if squeeze is not None else out


# --- unary elementwise -----------------------------------------------------------
def log(a):
    """log(A) after replacing entries <= 0 by 1 (on a copy)."""
    a = check_stack(a)
    return torch.where(a <= 0, 1.0, a).log_()


def abslog(a):
    """log|A| after replacing zeros by 1 (on a copy)."""
    a = check_stack(a)
    return torch.where(a == 0, 1.0, a).abs_().log_()


def abs_(a):
    """|A|."""
    return check_stack(a).abs()


def square(a):
    """A ** 2."""
    return check_stack(a).square()


def exp(a):
    """e ** A."""
    return check_stack(a).exp()


def normalize(a):
    """(A - mean) / std over each layer's elements (unbiased std); NaN -> 0."""
    f = flat(check_stack(a))
    if f.shape[1] < 2:  # std of one element is NaN: every entry becomes 0
        return torch.zeros_like(a, dtype=fdtype(a))
    c = f - f.mean(-1, keepdim=True)
    # two passes (mean, then the centred sum of squares in float64): as exact as Welford's
    # std and about ten times faster in torch on CPU
    ss = torch.linalg.vector_norm(c, dim=-1, keepdim=True, dtype=torch.float64)
    std = (ss / math.sqrt(f.shape[1] - 1)).to(c.dtype)
    return c.div_(std).nan_to_num_(nan=0.0).reshape(a.shape)


def relu(a):
    """max(A, 0)."""
    return torch.relu(check_stack(a))


def sign(a):
    """-1, 0 or 1; NaN stays NaN (torch.sign would hide it as 0)."""
    a = check_stack(a)
    return torch.where(torch.isnan(a), a, torch.sign(a))


def heaviside(a):
    """1 where A > 0 else 0 (0 at 0)."""
    a = check_stack(a)
    return (a > 0).to(fdtype(a))


def reciprocal(a):
    """1 / A (inf at 0; the validity check rejects programs that keep it)."""
    a = check_stack(a)
    return torch.reciprocal(a.to(fdtype(a)))


# --- reductions to a per-layer scalar -----------------------------------------
def frobenius_norm(a):
    """sqrt(sum A**2) per layer -> scalar."""
    return torch.linalg.vector_norm(flat(check_stack(a)).to(fdtype(a)), dim=-1)


def normalized_sum(a):
    """sum(A) / numel per layer -> scalar."""
    return flat(check_stack(a)).to(fdtype(a)).mean(-1)


def l1_norm(a):
    """sum|A| / numel per layer -> scalar."""
    return flat(check_stack(a)).to(fdtype(a)).abs().mean(-1)


def numel(a):
    """Number of elements per layer -> scalar."""
    a = check_stack(a)
    return torch.full((a.shape[0],), float(flat(a).shape[1]), dtype=fdtype(a), device=a.device)


def _square_mats(a, what):
    square_matrices(slice_shape(check_stack(a)), what)
    return a.to(fdtype(a))


def _det_small(m):
    """Determinant of n x n matrices, n <= 3, by cofactors in float64: correctly rounded for
    float32 input, and several times faster than LU on the many 3x3 and 1x1 conv kernels.
    Safe on any input (no LAPACK); a non-finite entry gives a non-finite result (IEEE), so
    callers need to check only the results."""
    d = m.to(torch.float64)
    n = m.shape[-1]
    if n == 1:
        return d[..., 0, 0]
    if n == 2:
        return d[..., 0, 0] * d[..., 1, 1] - d[..., 0, 1] * d[..., 1, 0]
    (a, b, c), (e, f, g), (h, i, j) = (r.unbind(-1) for r in d.unbind(-2))
    return a * (f * j - g * i) - b * (e * j - g * h) + c * (e * i - f * h)


def _finite_or_nan(m, d64, value):
    """``value`` with NaN for the non-finite matrices of ``m``, found only where ``d64`` (their
    float64 cofactor determinants) is not finite."""
    if bool(torch.isfinite(d64).all()):
        return value
    return nan_where_not(torch.isfinite(m).flatten(-2).all(-1), value)


def det(a):
    """Determinant of the last two (square) dims -> shape (L, *batch); NaN for
    non-finite matrices."""
    m = _square_mats(a, "det")
    if m.shape[-1] <= 3:
        d = _det_small(m)
        return _finite_or_nan(m, d, d.to(m.dtype))
    m, ok = finite_matrices(m)
    return nan_where_not(ok, torch.linalg.det(m))


def _nan_to_zero(x):
    """NaN -> 0, everything else (-inf for a zero determinant included) unchanged."""
    return torch.where(torch.isnan(x), torch.zeros((), dtype=x.dtype), x)


def logdet(a):
    """log(det) of the last two (square) dims: -inf for a singular matrix, 0 for a negative
    determinant (its log is NaN; the released EZNAS maps it to 0 too); NaN for non-finite
    matrices."""
    m = _square_mats(a, "logdet")
    if m.shape[-1] <= 3:
        d = _det_small(m)
        return _finite_or_nan(m, d, _nan_to_zero(torch.log(d).to(m.dtype)))
    m, ok = finite_matrices(m)
    return nan_where_not(ok, _nan_to_zero(torch.logdet(m)))


def sym_eig_ratio(a):
    """A reshaped (n, -1); M = A @ A.T symmetrised; largest / smallest eigenvalue."""
    r = rows(check_stack(a), "sym_eig_ratio").to(fdtype(a))
    m = r @ r.transpose(-1, -2)
    m, ok = finite_matrices((m + m.transpose(-1, -2)) / 2)
    ev = torch.linalg.eigvalsh(m)
    return nan_where_not(ok, ev[..., -1] / ev[..., 0])


def eig_ratio(a):
    """A reshaped (n, -1); M = einsum('nc,mc->nm'); general eigen-solver;
    largest / smallest real part (modern replacement of torch.eig)."""
    r = rows(check_stack(a), "eig_ratio").to(fdtype(a))
    m, ok = finite_matrices(torch.einsum("lnc,lmc->lnm", r, r))
    ev = torch.linalg.eigvals(m).real
    return nan_where_not(ok, ev.max(-1).values / ev.min(-1).values)


# --- binary reductions -----------------------------------------------------------
def hamming_dist(a, b):
    """Number of positions where heaviside(A) != heaviside(B) -> scalar."""
    a2, b2, shape = align(a, b, "hamming_dist")
    d = (a2 > 0) != (b2 > 0)
    d = d.expand(a2.shape[0], *shape)
    return flat(d).sum(-1).to(torch.promote_types(fdtype(a), fdtype(b)))


def kl_div(a, b):
    """KL(B || softmax-free input A) as torch's kl_div(A, B, 'batchmean'):
    sum(B * (log B - A)) / first dim, per layer -> scalar."""
    a2, b2, shape = align(a, b, "kl_div")
    neg = flat(b2 < 0).any(-1)  # B log B is NaN for B < 0, so such a layer's sum is NaN
    if bool(neg.all()):  # common (activations, gradients), and xlogy of negatives is slow
        return torch.full((a2.shape[0],), float("nan"), dtype=torch.result_type(a2, b2), device=a2.device)
    terms = torch.xlogy(b2, b2) - b2 * a2
    terms = terms.expand(a2.shape[0], *shape)
    n = shape[0] if shape else 1
    return flat(terms).sum(-1) / n


def cosine_similarity(a, b):
    """Rows of A and B (each reshaped (n, -1)) compared by cosine, summed -> scalar."""
    a2, b2, shape = align(a, b, "cosine_similarity")
    full = (a2.shape[0], *shape)
    ra = a2.expand(full).reshape(full[0], shape[0] if shape else 1, -1)
    rb = b2.expand(full).reshape(full[0], shape[0] if shape else 1, -1)
    return F.cosine_similarity(ra.to(fdtype(a)), rb.to(fdtype(b)), dim=-1).sum(-1)


# --- others ----------------------------------------------------------------------
def softmax(a):
    """Softmax over each layer's last dim (a per-layer scalar becomes 1)."""
    a = check_stack(a)
    if a.dim() == 1:
        return torch.ones_like(a, dtype=fdtype(a))
    a = a.to(fdtype(a))
    e = (a - a.amax(-1, keepdim=True)).exp_()  # as torch.softmax, about 5x faster on short rows
    return e.div_(e.sum(-1, keepdim=True))


def sigmoid(a):
    """1 / (1 + e**-A)."""
    a = check_stack(a)
    return torch.sigmoid(a.to(fdtype(a)))


def ones_like(a):
    """Ones of A's shape."""
    a = check_stack(a)
    return torch.ones_like(a, dtype=fdtype(a))


def zeros_like(a):
    """Zeros of A's shape."""
    a = check_stack(a)
    return torch.zeros_like(a, dtype=fdtype(a))


def greater_than_zero(a):
    """1.0 where A > 0 else 0.0."""
    a = check_stack(a)
    return (a > 0).to(fdtype(a))


def less_than_zero(a):
    """1.0 where A < 0 else 0.0."""
    a = check_stack(a)
    return (a < 0).to(fdtype(a))
