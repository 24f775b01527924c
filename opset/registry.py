"""One table of the 34 ops, read by the interpreter, the evolution and the exporter."""
from dataclasses import dataclass
from typing import Callable

import torch

from opset import ops, shapes
from opset.errors import OpError


@dataclass(frozen=True)
class Op:
    id: int  # paper id: OP<id> in Table 5
    name: str  # canonical name used in program strings
    arity: int
    fn: Callable
    doc: str
    shape: Callable  # operand slice shapes -> result slice shape, or OpError (opset.shapes)

    def __call__(self, *args):
        if len(args) != self.arity:
            raise OpError(f"{self.name}: takes {self.arity} operand(s), got {len(args)}")
        try:
            return self.fn(*args)
        except torch.linalg.LinAlgError as e:  # a linear-algebra failure: the program is invalid here
            raise OpError(f"{self.name}: {e}") from None
        # OpError (the shape rules, domain checks) passes through; anything else (out of
        # memory, a bug) propagates with its traceback instead of passing for an invalid program


# --- the shape rule of each op (opset.shapes) ----------------------------------------
def _same(s):
    return tuple(s)


def _scalar(s):
    return ()


def _elementwise(what):
    return lambda sa, sb: shapes.broadcast(sa, sb, what)


def _reduce2(what):
    def rule(sa, sb):
        shapes.broadcast(sa, sb, what)
        return ()
    return rule


def _matrices(what):
    return lambda s: shapes.square_matrices(s, what)


def _eig(what):
    def rule(s):
        shapes.at_least_1d(s, what)
        return ()
    return rule


RULES = {
    **{n: _elementwise(n) for n in ("add", "sub", "mul", "lt", "gt", "eq")},
    **{n: _same for n in ("log", "abslog", "abs", "square", "exp", "normalize", "relu", "sign", "heaviside",
                          "reciprocal", "softmax", "sigmoid", "ones_like", "zeros_like", "greater_than_zero",
                          "less_than_zero")},
    **{n: _scalar for n in ("frobenius_norm", "normalized_sum", "l1_norm", "numel")},
    **{n: _reduce2(n) for n in ("hamming_dist", "kl_div", "cosine_similarity")},
    **{n: _matrices(n) for n in ("det", "logdet")},
    **{n: _eig(n) for n in ("sym_eig_ratio", "eig_ratio")},
    "matmul": shapes.matmul_shape,
}


_TABLE = [
    (0, "add", 2, ops.add), (1, "sub", 2, ops.sub), (2, "mul", 2, ops.mul),
    (3, "matmul", 2, ops.matmul), (4, "lt", 2, ops.lt), (5, "gt", 2, ops.gt),
    (6, "eq", 2, ops.eq), (7, "log", 1, ops.log), (8, "abslog", 1, ops.abslog),
    (9, "abs", 1, ops.abs_), (10, "square", 1, ops.square), (11, "exp", 1, ops.exp),
    (12, "normalize", 1, ops.normalize), (13, "relu", 1, ops.relu), (14, "sign", 1, ops.sign),
    (15, "heaviside", 1, ops.heaviside), (16, "reciprocal", 1, ops.reciprocal),
    (17, "frobenius_norm", 1, ops.frobenius_norm), (18, "det", 1, ops.det),
    (19, "logdet", 1, ops.logdet), (20, "sym_eig_ratio", 1, ops.sym_eig_ratio),
    (21, "eig_ratio", 1, ops.eig_ratio), (22, "normalized_sum", 1, ops.normalized_sum),
    (23, "l1_norm", 1, ops.l1_norm), (24, "hamming_dist", 2, ops.hamming_dist),
    (25, "kl_div", 2, ops.kl_div), (26, "cosine_similarity", 2, ops.cosine_similarity),
    (27, "softmax", 1, ops.softmax), (28, "sigmoid", 1, ops.sigmoid),
    (29, "ones_like", 1, ops.ones_like), (30, "zeros_like", 1, ops.zeros_like),
    (31, "greater_than_zero", 1, ops.greater_than_zero),
    (32, "less_than_zero", 1, ops.less_than_zero), (33, "numel", 1, ops.numel),
]

OPS = tuple(Op(i, n, a, f, (f.__doc__ or "").strip().splitlines()[0], RULES[n]) for i, n, a, f in _TABLE)
BY_NAME = {op.name: op for op in OPS}
BY_ID = {op.id: op for op in OPS}


def get(key):
    """Op by canonical name, paper id (int) or 'OP<id>'."""
    if isinstance(key, int):
        return BY_ID[key]
    if key in BY_NAME:
        return BY_NAME[key]
    if isinstance(key, str) and key.upper().startswith("OP") and key[2:].isdigit():
        return BY_ID[int(key[2:])]
    raise KeyError(f"unknown op {key!r}")


def apply_single(op, *tensors):
    """Apply an op to plain (unstacked) tensors: adds and removes the stack axis."""
    op = get(op) if not isinstance(op, Op) else op
    out = op(*[torch.as_tensor(t).unsqueeze(0) for t in tensors])
    return out.squeeze(0)
