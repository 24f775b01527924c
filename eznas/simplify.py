"""Simplify dead subtrees: the argument of an op whose value depends only on its
argument's shape (``ones_like``, ``zeros_like``, ``numel``) is replaced by a terminal of
the same per-layer shape, so ``ones_like(log(abs(T2G_N)))`` reads ``ones_like(T2G_N)``.

Shapes are those of the layer groups given (e.g. the task's networks); callers check that
the simplified program scores exactly as the original on the networks that matter.
"""
from eznas.program import _arity, format_prefix, infer, parse
from opset import OpError
from stats_cache.schema import KINDS

SHAPE_ONLY = ("ones_like", "zeros_like", "numel")


def _subtree_end(prefix, start):
    need, j = 1, start
    while need:
        need += (_arity(prefix[j]) if prefix[j] not in KINDS else 0) - 1
        j += 1
    return j


def _shapes(sub, shape_sets):
    try:
        return [tuple(infer(sub, s)) for s in shape_sets]
    except OpError:
        return None


def simplify(text, shape_sets):
    """The program ``text`` with every shape-only op's argument replaced by the first
    terminal (in schema order) whose per-layer shape equals it in every ``shape_sets``
    entry ({kind: slice shape}); unchanged where none matches."""
    prefix = list(parse(text))
    i = 0
    while i < len(prefix):
        if prefix[i] in SHAPE_ONLY and prefix[i + 1] not in KINDS:
            end = _subtree_end(prefix, i + 1)
            body = tuple(prefix[i + 1:end])
            want = _shapes(body, shape_sets)  # below the root: no aggregation wrapper
            if want is not None:
                for k in KINDS:
                    if _shapes((k,), shape_sets) == want:
                        prefix[i + 1:end] = [k]
                        break
        i += 1
    return format_prefix(tuple(prefix))
