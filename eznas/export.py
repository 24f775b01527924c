"""Export programs as one standalone Python module that needs torch alone.

The module is generated: the opset's code (from its syntax trees, see ``opset_source``), a
table ``OPS`` of op name -> function made from the registry, and, from each program's tree,
one plain function per program, ``program_<k>(layer) -> float``: ``layer`` maps the 22 statistics kinds (e.g.
``'T3G_N'``) of one layer to tensors; the program's result is reduced to a scalar (mean, or
L2 norm) and multiplied by the sign fixed at export so that larger means better.  Each
function's docstring gives the infix formula, the fitness and the spaces it was evolved on.
``score(layers, fn)`` averages a function over a network's layers (and multiplies by the
network's FLOPs, ``score(layers, fn, flops=...)``, for a program evolved as ``times_flops``).

``eznas.measures(model, batch, [fn])`` scores any torch model with such a function.
"""
import ast
import inspect

import opset.errors
import opset.ops
import opset.shapes
import opset.stack
from eznas.program import fold, infix, parse, split_aggregate, split_factor
from opset import BY_NAME
from stats_cache.schema import KINDS

OPSET_MODULES = (opset.errors, opset.shapes, opset.stack, opset.ops)  # in dependency order
ALLOWED_IMPORTS = ("import math", "import torch", "import torch.nn.functional as F")


def opset_source():
    """The opset's code as one block, from its syntax trees: each module's docstring and
    imports dropped (opset-internal ones because the block defines those names itself; the
    others, which must be torch or math, are written once at the top of the file)."""
    bodies = []
    for mod in OPSET_MODULES:
        tree = ast.parse(inspect.getsource(mod))
        keep = []
        for k, node in enumerate(tree.body):
            if k == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue  # the module docstring
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "opset":
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                if ast.unparse(node) not in ALLOWED_IMPORTS:
                    raise ValueError(f"{mod.__name__}: `{ast.unparse(node)}` would make exported programs need more than torch")
                continue
            keep.append(node)
        bodies.append(ast.unparse(ast.Module(body=keep, type_ignores=[])))
    return "\n\n\n".join(bodies)


def _expr(prefix):
    return fold(prefix, lambda kind: f'L["{kind}"]', lambda name, args: f"OPS[{name!r}]({', '.join(args)})")


def export_source(rows, how="mean"):
    """``rows``: dicts with 'program' and optionally 'sign', 'min_tau', 'taus'."""
    split = [split_aggregate(parse(r["program"])) for r in rows]
    factors = [split_factor(parse(r["program"]))[1] for r in rows]
    prefixes = [p for p, _ in split]
    used = sorted({t for p in prefixes for t in p if t not in KINDS})
    body = opset_source()
    table = ",\n    ".join(f"{n!r}: {BY_NAME[n].fn.__name__}" for n in used)
    funcs = []
    for k, (r, (prefix, aggregate), factor) in enumerate(zip(rows, split, factors)):
        sign = float(r.get("sign", 1.0))
        times = f"; times the network's {factor} (``score(layers, fn, {factor}=...)``)" if factor else ""
        taus = r.get("taus") or {}
        funcs.append(f'''

def program_{k}(layer):
    """{infix(prefix)}

    Program: {r["program"]}
    Sign: {sign:+.0f}; to_scalar: {how}; over layers: {aggregate} (``score`` applies it){times}
    Minimum Kendall tau over spaces on validation networks (never used by the search): {r.get("min_tau")}
    Search fitness (minimum over spaces on search networks): {r.get("search_min_tau", "-")}
    Evolved on (validation tau per space): {", ".join(f"{s} (tau {t:.3f})" for s, t in taus.items()) or "-"}
    """
    L = {{k: v.unsqueeze(0) for k, v in layer.items()}}
    return {sign!r} * _to_scalar({_expr(prefix)})


program_{k}.aggregate = {aggregate!r}
program_{k}.times = {factor or ""!r}''')
    names = ", ".join(f"program_{k}" for k in range(len(rows)))
    return f'''"""Zero-cost proxies discovered by EZNAS (exported by eznas.export); needs torch only.

Each ``program_<k>(layer)`` takes one layer's statistics, a dict of the 22 tensors
(T1_D, T2_D, T3, T4_D, T1G_D, ..., T3G_P, T4G_P; see stats_cache/schema.py), and returns a
float; larger means better.  ``score(layers, program_0)`` combines a network's layers as
the program says (``program_0.aggregate``: 'mean' or 'sum' over layers), times the
network's FLOPs (in millions) where ``program_0.times`` is 'flops'.
With the eznas package: ``eznas.measures(model, batch, [program_0])`` scores any torch model.
"""
import math

import torch
import torch.nn.functional as F

{body}

OPS = {{
    {table},
}}
TO_SCALAR = {how!r}


def _to_scalar(value):
    flat = value.reshape(-1)
    if not flat.is_floating_point():
        flat = flat.to(torch.float64)
    if TO_SCALAR == "mean":
        return float(flat.mean(dtype=torch.float64))
    return float(torch.linalg.vector_norm(flat, dtype=torch.float64))
{"".join(funcs)}


PROGRAMS = [{names}]


def score(layers, program=program_0, flops=None):
    """Score of a network from the list of its layers' statistics (larger = better);
    ``flops``: the network's multiply-accumulates in millions, for a program whose
    ``times`` is 'flops'."""
    total = sum(program(layer) for layer in layers)
    value = total if getattr(program, "aggregate", "mean") == "sum" else total / len(layers)
    if getattr(program, "times", ""):
        if flops is None:
            raise ValueError(f"{{program.__name__}} multiplies by the network's FLOPs: pass score(layers, fn, flops=...)")
        value *= flops
    return value
'''


def export_file(path, rows, how="mean"):
    with open(path, "w") as f:
        f.write(export_source(rows, how))
    return path
