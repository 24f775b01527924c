"""Export a program as a standalone Python module that needs torch alone.

The module inlines the opset (its source, imports rewritten), defines ``program(layer)``
on one layer's statistics (a dict kind -> tensor, unstacked) and ``score(layers)`` on a
list of such dicts (to_scalar per layer, mean over layers, times ``SIGN``).  ``SIGN`` is
fixed at export so that larger scores mean higher accuracy on the data the program was
evolved on.
"""
import inspect
import re

import opset.errors
import opset.ops
import opset.stack
from eznas.program import parse
from opset import BY_NAME
from stats_cache.schema import KINDS


def _module_source(mod):
    src = inspect.getsource(mod)
    src = re.sub(r"^from opset\.[a-z_]+ import .*$", "", src, flags=re.M)
    return src


def _expr(prefix):
    stack = []
    for name in reversed(prefix):
        if name in KINDS:
            stack.append(f'L["{name}"]')
        else:
            op = BY_NAME[name]
            args = [stack.pop() for _ in range(op.arity)]
            stack.append(f"OPS[{name!r}]({', '.join(args)})")
    return stack[0]


def export_source(program, sign=1.0, fitness=None, taus=None, how="mean"):
    prefix = parse(program)
    used = sorted({t for t in prefix if t not in KINDS})
    table = ",\n    ".join(f"{n!r}: {BY_NAME[n].fn.__name__}" for n in used)
    header = f'''"""EZNAS zero-cost proxy, exported by eznas.export.

Program: {program}
Sign: {sign:+.0f} (applied so that larger scores mean higher accuracy)
Fitness (min Kendall tau over spaces while evolving): {fitness}
Kendall tau per space on the task dataset: {taus}

Usage:
    from stats_cache.collect import collect        # or any code giving the 22 tensors
    layers = [s.tensors for s in collect(model, batch)]
    print(score(layers))
Needs torch only.
"""
import torch
import torch.nn.functional as F
'''
    body = "\n".join(_module_source(m) for m in (opset.errors, opset.stack, opset.ops))
    body = re.sub(r'^""".*?"""\n', "", body, flags=re.S | re.M)
    body = re.sub(r"^import torch(\.nn\.functional as F)?\n", "", body, flags=re.M)
    tail = f'''

OPS = {{
    {table},
}}
PROGRAM = {program!r}
SIGN = {float(sign)!r}
TO_SCALAR = {how!r}


def _stacked_program(L):
    return {_expr(prefix)}


def program(layer):
    """The program on one layer: ``layer`` maps kind (e.g. 'T3G_N') to its tensor."""
    return _stacked_program({{k: v.unsqueeze(0) for k, v in layer.items()}}).squeeze(0)


def score(layers):
    """Score of a network from the list of its layers' statistics (larger = better)."""
    vals = []
    for layer in layers:
        v = program(layer).reshape(-1).to(torch.float64)
        vals.append(v.mean() if TO_SCALAR == "mean" else torch.linalg.vector_norm(v))
    return SIGN * float(torch.stack(vals).mean())
'''
    return header + body + tail


def export_file(path, program, **kw):
    with open(path, "w") as f:
        f.write(export_source(program, **kw))
    return path
