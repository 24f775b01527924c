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

Nothing read from a store or a file becomes code.  Text that reaches a docstring (space
names, taus, program strings) is made one line of printable ASCII first (``_plain``:
backslashes, newlines, line separators, any non-ASCII written as Python escapes), then
escaped into the literal (``_docstring``: backslashes and double quotes); values that reach
code are checked (a finite sign, ``mean`` or ``l2``) and written as literals; programs are
rebuilt from their parsed tokens.  ``check_source`` parses the generated module and refuses
it unless its statements are exactly the expected ones.
"""
import ast
import inspect
import math

import opset.errors
import opset.ops
import opset.shapes
import opset.stack
from eznas.program import FACTORS, fold, format_prefix, infix, parse, split_aggregate, split_factor
from opset import BY_NAME
from stats_cache.schema import KINDS

OPSET_MODULES = (opset.errors, opset.shapes, opset.stack, opset.ops)  # in dependency order
FACTOR_NAMES = tuple(FACTORS.values())
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


def _plain(value):
    """``value`` as one line of printable ASCII: backslashes, control characters (newline,
    carriage return), line separators (U+2028, U+0085) and every other non-ASCII character
    written as Python escapes, so it reads the same in a docstring and can start no line."""
    return str(value).encode("unicode_escape").decode("ascii")


def _docstring(text):
    """The source of a docstring literal whose value is ``text``: every backslash and double
    quote escaped, so nothing in it can end the literal."""
    return '"""' + text.replace("\\", "\\\\").replace('"', '\\"') + '"""'


def _expr(prefix):
    return fold(prefix, lambda kind: f'L["{kind}"]', lambda name, args: f"OPS[{name!r}]({', '.join(args)})")


MODULE_DOC = """Zero-cost proxies discovered by EZNAS (exported by eznas.export); needs torch only.

Each ``program_<k>(layer)`` takes one layer's statistics, a dict of the 22 tensors
(T1_D, T2_D, T3, T4_D, T1G_D, ..., T3G_P, T4G_P; see stats_cache/schema.py), and returns a
float; larger means better.  ``score(layers, program_0)`` combines a network's layers as
the program says (``program_0.aggregate``: 'mean' or 'sum' over layers), times the
network's FLOPs (in millions) where ``program_0.times`` is 'flops'.
With the eznas package: ``eznas.measures(model, batch, [program_0])`` scores any torch model.
"""

# the fixed code of every exported module (check_source compares the file's syntax with these)
TO_SCALAR_SOURCE = """def _to_scalar(value):
    flat = value.reshape(-1)
    if not flat.is_floating_point():
        flat = flat.to(torch.float64)
    if TO_SCALAR == "mean":
        return float(flat.mean(dtype=torch.float64))
    return float(torch.linalg.vector_norm(flat, dtype=torch.float64))"""

SCORE_SOURCE = '''def score(layers, program=program_0, flops=None):
    """Score of a network from the list of its layers' statistics (larger = better);
    ``flops``: the network's multiply-accumulates in millions, for a program whose
    ``times`` is 'flops'."""
    total = sum(program(layer) for layer in layers)
    value = total if getattr(program, "aggregate", "mean") == "sum" else total / len(layers)
    if getattr(program, "times", ""):
        if flops is None:
            raise ValueError(f"{program.__name__} multiplies by the network's FLOPs: pass score(layers, fn, flops=...)")
        value *= flops
    return value'''

LAYER_SOURCE = "L = {k: v.unsqueeze(0) for k, v in layer.items()}"
TO_SCALAR_CHOICES = ("mean", "l2")


def _program_doc(r, prefix, aggregate, factor, sign, how):
    """A program function's docstring; every value taken from the row made plain (``_plain``)."""
    times = f"; times the network's {factor} (``score(layers, fn, {factor}=...)``)" if factor else ""
    taus = r.get("taus") or {}
    if not isinstance(taus, dict):
        raise ValueError(f"'taus' must map spaces to taus, got {_plain(repr(taus))}")
    evolved = ", ".join(f"{_plain(s)} (tau {float(t):.3f})" for s, t in taus.items()) or "-"
    return "\n".join([
        _plain(infix(prefix)), "",
        f"    Program: {format_prefix(parse(r['program']))}",
        f"    Sign: {sign:+.0f}; to_scalar: {how}; over layers: {aggregate} (``score`` applies it){times}",
        f"    Minimum Kendall tau over spaces on validation networks (never used by the search): {_plain(r.get('min_tau'))}",
        f"    Search fitness (minimum over spaces on search networks): {_plain(r.get('search_min_tau', '-'))}",
        f"    Evolved on (validation tau per space): {evolved}",
        "    "])


def export_source(rows, how="mean"):
    """``rows``: dicts with 'program' and optionally 'sign', 'min_tau', 'taus'.  Code is made
    of the programs' parsed tokens, a checked sign and the fixed code above only; every other
    value becomes plain text in a docstring; the module is checked (``check_source``)."""
    if how not in TO_SCALAR_CHOICES:
        raise ValueError(f"to_scalar must be one of {TO_SCALAR_CHOICES}, got {_plain(repr(how))}")
    if not rows:
        raise ValueError("no programs to export")
    split = [split_aggregate(parse(r["program"])) for r in rows]
    factors = [split_factor(parse(r["program"]))[1] for r in rows]
    prefixes = [p for p, _ in split]
    used = sorted({t for p in prefixes for t in p if t not in KINDS})
    body = opset_source()
    table = ",\n    ".join(f"{n!r}: {BY_NAME[n].fn.__name__}" for n in used)
    funcs, docs = [], []
    for k, (r, (prefix, aggregate), factor) in enumerate(zip(rows, split, factors)):
        try:
            sign = float(r.get("sign", 1.0))
        except (TypeError, ValueError):
            sign = math.nan
        if not math.isfinite(sign):
            raise ValueError(f"program {k}: 'sign' must be a finite number, got {_plain(repr(r.get('sign')))}")
        doc = _program_doc(r, prefix, aggregate, factor, sign, how)
        docs.append(doc)
        funcs.append(f'''

def program_{k}(layer):
    {_docstring(doc)}
    {LAYER_SOURCE}
    return {sign!r} * _to_scalar({_expr(prefix)})


program_{k}.aggregate = {aggregate!r}
program_{k}.times = {factor or ""!r}''')
    names = ", ".join(f"program_{k}" for k in range(len(rows)))
    imports = "\n".join(ALLOWED_IMPORTS[:1]) + "\n\n" + "\n".join(ALLOWED_IMPORTS[1:])
    source = f'''{_docstring(MODULE_DOC)}
{imports}

{body}

OPS = {{
    {table},
}}
TO_SCALAR = {how!r}


{TO_SCALAR_SOURCE}
{"".join(funcs)}


PROGRAMS = [{names}]


{SCORE_SOURCE}
'''
    check_source(source, docs, body)
    return source


def _same(node, source):
    return ast.dump(node) == ast.dump(ast.parse(source).body[0])


def _refuse(what):
    raise ValueError(f"exported module refused: {what}")


def _check_expression(k, expr):
    """A program's expression holds only opset calls ``OPS['name'](...)`` and reads ``L['KIND']``."""
    for node in ast.walk(expr):
        if isinstance(node, ast.Call):
            f = node.func
            if not (isinstance(f, ast.Subscript) and isinstance(f.value, ast.Name) and f.value.id == "OPS"
                    and isinstance(f.slice, ast.Constant) and f.slice.value in BY_NAME and not node.keywords):
                _refuse(f"program_{k} calls something other than an opset op")
        elif isinstance(node, ast.Subscript):
            if not (isinstance(node.value, ast.Name) and node.value.id in ("OPS", "L") and isinstance(node.slice, ast.Constant)
                    and (node.value.id == "OPS" or node.slice.value in KINDS)):
                _refuse(f"program_{k} reads something other than an op and a statistic")
        elif isinstance(node, ast.Name):
            if node.id not in ("OPS", "L"):
                _refuse(f"program_{k} names {node.id!r}")
        elif not isinstance(node, (ast.Constant, ast.Load)):
            _refuse(f"program_{k} holds a {type(node).__name__}")


def check_source(source, docs, body=None):
    """Refuse (ValueError) a generated module unless it parses and its statements are exactly
    those ``export_source`` writes: the module docstring, the three imports, the opset's code,
    the op table, ``TO_SCALAR``, ``_to_scalar``, per program one function (docstring
    ``docs[k]``, the layer's statistics, ``sign * _to_scalar(<opset calls>)``) and its two
    attributes, then ``PROGRAMS`` and ``score``.  Text that escaped its literal would show
    here as a statement, a name or a docstring that should not be."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, RecursionError, MemoryError, ValueError) as e:
        _refuse(f"it does not parse ({type(e).__name__}: {e})")
    opset_nodes = ast.parse(opset_source() if body is None else body).body
    nodes = list(tree.body)
    fixed = 4 + len(opset_nodes)  # docstring, 3 imports, the opset
    want = fixed + 3 + 3 * len(docs) + 2
    if len(nodes) != want:
        _refuse(f"{len(nodes)} top-level statements, expected {want}")
    head = nodes[0]
    if not (isinstance(head, ast.Expr) and isinstance(head.value, ast.Constant) and head.value.value == MODULE_DOC):
        _refuse("its docstring is not the one written")
    if [ast.unparse(n) for n in nodes[1:4]] != list(ALLOWED_IMPORTS):
        _refuse("its imports are not math, torch and torch.nn.functional")
    if [ast.dump(n) for n in nodes[4:fixed]] != [ast.dump(n) for n in opset_nodes]:
        _refuse("the opset's code differs")
    ops, to_scalar, to_scalar_fn = nodes[fixed:fixed + 3]
    if not (isinstance(ops, ast.Assign) and ast.unparse(ops.targets[0]) == "OPS" and isinstance(ops.value, ast.Dict)
            and all(isinstance(key, ast.Constant) and key.value in BY_NAME and isinstance(v, ast.Name)
                    and v.id == BY_NAME[key.value].fn.__name__ for key, v in zip(ops.value.keys, ops.value.values))):
        _refuse("the op table is not one of opset ops")
    if not (isinstance(to_scalar, ast.Assign) and ast.unparse(to_scalar.targets[0]) == "TO_SCALAR"
            and isinstance(to_scalar.value, ast.Constant) and to_scalar.value.value in TO_SCALAR_CHOICES):
        _refuse("TO_SCALAR is not 'mean' or 'l2'")
    if not _same(to_scalar_fn, TO_SCALAR_SOURCE):
        _refuse("_to_scalar differs")
    for k, doc in enumerate(docs):
        fn, agg, times = nodes[fixed + 3 + 3 * k:fixed + 6 + 3 * k]
        if not (isinstance(fn, ast.FunctionDef) and fn.name == f"program_{k}" and ast.unparse(fn.args) == "layer"
                and not fn.decorator_list and fn.returns is None and len(fn.body) == 3):
            _refuse(f"program_{k} is not one plain function of three statements")
        first, layer, ret = fn.body
        if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and first.value.value == doc):
            _refuse(f"program_{k}'s docstring is not the one written")
        if not _same(layer, LAYER_SOURCE):
            _refuse(f"program_{k} does not start from the layer's statistics")
        value = ret.value if isinstance(ret, ast.Return) else None
        if not (isinstance(value, ast.BinOp) and isinstance(value.op, ast.Mult)
                and isinstance(value.left, (ast.Constant, ast.UnaryOp)) and isinstance(value.right, ast.Call)
                and isinstance(value.right.func, ast.Name) and value.right.func.id == "_to_scalar"
                and len(value.right.args) == 1 and not value.right.keywords):
            _refuse(f"program_{k} does not return sign * _to_scalar(...)")
        try:
            sign = ast.literal_eval(value.left)
        except ValueError:
            sign = None
        if not isinstance(sign, float) or not math.isfinite(sign):
            _refuse(f"program_{k}'s sign is not a finite number")
        _check_expression(k, value.right.args[0])
        for node, attr, allowed in ((agg, "aggregate", ("mean", "sum")), (times, "times", ("",) + FACTOR_NAMES)):
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and ast.unparse(node.targets[0]) == f"program_{k}.{attr}"
                    and isinstance(node.value, ast.Constant) and node.value.value in allowed):
                _refuse(f"program_{k}.{attr} is not one of {allowed}")
    programs, score = nodes[-2:]
    if ast.unparse(programs) != f"PROGRAMS = [{', '.join(f'program_{k}' for k in range(len(docs)))}]":
        _refuse("PROGRAMS is not the list of the programs")
    if not _same(score, SCORE_SOURCE):
        _refuse("score differs")
    return tree


def export_file(path, rows, how="mean"):
    source = export_source(rows, how)  # checked before anything is written
    with open(path, "w", encoding="utf-8") as f:
        f.write(source)
    return path
