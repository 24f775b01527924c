"""Programs: canonical strings, parsing, and a stack interpreter.

The canonical form is DEAP's: ``op(arg, arg)`` with terminals named by the statistics
kinds, e.g. ``frobenius_norm(sigmoid(logdet(sign(T3G_N))))``.  A program may be wrapped
at its root in a layer aggregation, ``layer_mean(...)`` (the paper: per-layer scalars
averaged over the network's layers; the default when absent) or ``layer_sum(...)`` (summed
over layers, so a per-layer size measure grows with depth as #params does); evolution
chooses it.  Outside that, ``times_flops(...)`` multiplies the network's score by its FLOPs
(the network's multiply-accumulates, in millions, as eznas.spaces.complexity counts them
and the store records them): a program that reads what size does not, times size.
Internally a program is its
prefix token list; evaluation walks it backwards with an explicit stack (no eval, no
recursion).  A program is at most ``MAX_PROGRAM_DEPTH`` nodes deep (counting the wrappers):
the parser refuses a deeper one as it reads it, so a hostile file cannot make a tree that
takes hours to score or an exported module Python cannot parse.
"""
import functools
import re

import torch

from opset import BY_NAME, OpError
from stats_cache.schema import KINDS

_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*|\(|\)|,)")
_KINDS = frozenset(KINDS)
AGGREGATORS = {"layer_mean": "mean", "layer_sum": "sum"}  # root-only wrappers
FACTORS = {"times_flops": "flops"}  # outermost wrapper: the network's score times a network attribute
# nodes on a program's longest root-to-terminal path, wrappers included: far above what a search
# makes (config max_depth is at most MAX_SEARCH_DEPTH, 20; the paper's 10), far below what the
# exported module's nested calls may reach (Python's parser stops at 200 nested parentheses)
MAX_PROGRAM_DEPTH = 64
SHOWN_CHARS = 120  # a program quoted in an error message is cut to this many characters


def _arity(name):
    return 1 if name in AGGREGATORS or name in FACTORS else BY_NAME[name].arity


def split_factor(prefix):
    """(prefix without the outer factor, network attribute it multiplies by or None)."""
    if prefix and prefix[0] in FACTORS:
        return prefix[1:], FACTORS[prefix[0]]
    return prefix, None


def with_factor(text, factor):
    """A program string multiplied by a network attribute ('flops'), or unchanged (None or
    ''); a program that already has that factor is returned as it is."""
    if not factor:
        return text
    name = {v: k for k, v in FACTORS.items()}[factor]
    return text if split_factor(parse(text))[1] == factor else f"{name}({text})"


def apply_factor(score, factor, attrs, what="program"):
    """A network's score times its ``attrs[factor]`` (no factor: unchanged); a missing
    attribute is an error naming it."""
    if not factor:
        return score
    value = attrs.get(factor) if attrs else None
    if value is None:
        raise ValueError(f"{what} multiplies by the network's {factor}, which was not given")
    return score * float(value)


def split_aggregate(prefix, default="mean"):
    """(body prefix, 'mean' or 'sum') of a program's prefix tokens; an outer network
    factor (``times_flops``) is dropped here: callers that make a network's score apply it
    (``split_factor``, ``apply_factor``)."""
    prefix = split_factor(prefix)[0]
    if prefix and prefix[0] in AGGREGATORS:
        return prefix[1:], AGGREGATORS[prefix[0]]
    return prefix, default


class ProgramError(ValueError):
    """A program string is malformed.  ``reason``: the message without the program quoted,
    for a caller that quotes it once itself."""

    def __init__(self, message, reason=None):
        super().__init__(message)
        self.reason = reason or message


def _error(reason, text, sep=" in "):
    """ProgramError: ``reason``, then the program quoted cut short."""
    return ProgramError(f"{reason}{sep}{shown(text)}", reason)


def shown(text, chars=SHOWN_CHARS):
    """``text`` for an error message: its repr, cut after ``chars`` characters (a program
    string, or a token of one, may be 100 kB long)."""
    text = str(text)
    return repr(text) if len(text) <= chars else f"{text[:chars]!r}... ({len(text)} characters)"



def _tokens(text):
    toks, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            if text[pos:].strip() == "":
                break
            raise _error(f"unexpected character at {pos}", text)
        toks.append(m.group(1))
        pos = m.end()
    return toks


def parse(text):
    """Program string -> prefix token tuple (op names and kinds); explicit stack.  A program
    more than MAX_PROGRAM_DEPTH nodes deep is refused when the parser reaches that depth."""
    if not isinstance(text, str):
        raise ProgramError(f"a program is a string, got {type(text).__name__}")
    toks = _tokens(text.strip())
    out, open_ops, i = [], [], 0  # open_ops: [op name, arguments still to read]

    def expect(tok):
        nonlocal i
        if i >= len(toks) or toks[i] != tok:
            got = toks[i] if i < len(toks) else "end of program"
            raise _error(f"expected {tok!r} but found {shown(got, 40)}", text)
        i += 1

    while True:
        if i >= len(toks):
            raise _error("program ends early", text, ": ")
        name = toks[i]
        i += 1
        if len(open_ops) >= MAX_PROGRAM_DEPTH:  # this node would lie deeper than the limit
            raise _error(f"program deeper than {MAX_PROGRAM_DEPTH} nodes (MAX_PROGRAM_DEPTH)", text, ": ")
        out.append(name)
        if name in FACTORS and len(out) > 1:
            raise _error(f"{name} may only wrap a whole program", text, ", in ")
        if name in AGGREGATORS and len(out) > 1 and not (len(out) == 2 and out[0] in FACTORS):
            raise _error(f"{name} may only wrap a whole program", text, ", in ")
        if name in BY_NAME or name in AGGREGATORS or name in FACTORS:
            expect("(")
            open_ops.append([name, _arity(name)])
            continue
        if name not in _KINDS:
            raise _error(f"unknown op or terminal {shown(name, 40)}", text)
        while open_ops:  # a node is complete: close the ops it completes
            open_ops[-1][1] -= 1
            if open_ops[-1][1] > 0:
                expect(",")
                break
            expect(")")
            open_ops.pop()
        else:
            break
    if i != len(toks):
        raise _error("trailing tokens", text)
    return tuple(out)


def fold(prefix, leaf, node):
    """Walk prefix tokens bottom-up with an explicit stack: ``leaf(kind)`` for terminals,
    ``node(op name, [argument values])`` for ops; returns the root's value."""
    stack = []
    for name in reversed(prefix):
        if name in _KINDS:
            stack.append(leaf(name))
        else:
            args = [stack.pop() for _ in range(_arity(name))]
            stack.append(node(name, args))
    if len(stack) != 1:
        raise ProgramError("malformed prefix")
    return stack[0]


def format_prefix(prefix):
    """Prefix tokens -> canonical string."""
    return fold(prefix, str, lambda name, args: f"{name}({', '.join(args)})")


def kinds_used(prefix):
    return sorted({t for t in prefix if t in _KINDS})


@functools.lru_cache(maxsize=2**16)
def _infer(prefix, shapes):
    env = dict(shapes)
    try:
        return fold(prefix, env.__getitem__, lambda name, args: BY_NAME[name].shape(*args)), None
    except OpError as e:
        return None, str(e)


def infer(prefix, shapes):
    """The per-layer shape of a program's result from the per-layer shapes of its terminals
    (``shapes``: kind -> slice shape), without arithmetic; raises the OpError the program
    would raise.  Cached per (program, shapes)."""
    prefix = split_aggregate(prefix)[0]
    shape, error = _infer(prefix, tuple(sorted((k, tuple(s)) for k, s in shapes.items())))
    if error is not None:
        raise OpError(error)
    return shape


def run(prefix, env):
    """Evaluate prefix tokens on ``env`` (kind -> stacked tensor (L, ...)); returns the
    result.  Raises OpError when an op cannot apply; such a program is recognised from the
    layer shapes (``infer``) before any op runs.  A root aggregation wrapper is ignored
    here (it acts across layers; see ``split_aggregate``)."""
    prefix = split_aggregate(prefix)[0]
    infer(prefix, {k: v.shape[1:] for k, v in env.items()})
    return fold(prefix, env.__getitem__, lambda name, args: BY_NAME[name](*args))


def to_scalar(value, how="mean"):
    """Per-layer scalar of a stacked result: mean (default) or L2 norm of each slice."""
    flat = value.reshape(value.shape[0], -1)
    if not flat.is_floating_point():
        flat = flat.to(torch.float64)
    if how == "mean":
        return flat.mean(-1, dtype=torch.float64)  # accumulates in float64, no float64 copy
    if how == "l2":
        return torch.linalg.vector_norm(flat, dim=-1, dtype=torch.float64)
    raise ValueError(f"to_scalar must be 'mean' or 'l2', got {how!r}")


def layer_values(prefix, groups, how="mean"):
    """Per-layer scalars of a program on one network, in group order (float64 tensor).
    ``groups``: list of (layer indices, env).  Raises OpError."""
    vals = []
    for idx, env in groups:
        per_layer = to_scalar(run(prefix, env), how)
        if per_layer.shape[0] != len(idx):
            raise OpError("program result lost the layer axis")
        vals.append(per_layer)
    if not vals:
        raise OpError("network has no layers")
    return torch.cat(vals)


def aggregate_layers(values, aggregate="mean"):
    """A network's score from its per-layer scalars: their mean (the paper) or sum."""
    if aggregate not in ("mean", "sum"):
        raise ValueError(f"aggregate must be 'mean' or 'sum', got {aggregate!r}")
    total = float(values.sum())
    return total / len(values) if aggregate == "mean" else total


def score_network(prefix, groups, how="mean", aggregate="mean", attrs=None):
    """Score of one network: the program on every layer group, per-layer scalars, then
    their mean over layers (the engine's definition) or, with ``aggregate="sum"``, their
    sum; a program wrapped in ``layer_sum`` / ``layer_mean`` uses its own.  ``groups``:
    list of (layer indices, env); ``attrs``: the network's {"flops": ...} for a
    ``times_flops`` program.  Returns a float (may be NaN / inf; callers decide) or raises
    OpError."""
    if aggregate not in ("mean", "sum"):
        raise ValueError(f"aggregate must be 'mean' or 'sum', got {aggregate!r}")
    factor = split_factor(prefix)[1]
    body, aggregate = split_aggregate(prefix, aggregate)
    return apply_factor(aggregate_layers(layer_values(body, groups, how), aggregate), factor, attrs)


INFIX = {"add": "+", "sub": "-", "mul": "*", "matmul": "@", "lt": "<", "gt": ">", "eq": "=="}


def infix(prefix):
    """Readable infix form: binary arithmetic and comparisons as operators, the rest as calls."""
    text = fold(prefix, str, lambda name, a: f"({a[0]} {INFIX[name]} {a[1]})" if name in INFIX
                else f"{name}({', '.join(a)})")
    return text[1:-1] if prefix[0] in INFIX else text  # no parentheses around the whole formula


__all__ = ["MAX_PROGRAM_DEPTH", "parse", "split_aggregate", "split_factor", "with_factor", "apply_factor", "AGGREGATORS", "FACTORS", "fold", "format_prefix", "infix", "kinds_used", "infer", "run", "to_scalar", "score_network",
           "layer_values", "aggregate_layers", "ProgramError", "OpError"]
