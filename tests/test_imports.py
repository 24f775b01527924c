"""The module graph points upstream only (opset <- stats_cache <- eznas), deap lives in
eznas/evolve, library code does not import the command line, and module-level imports
form no cycle.  Read from the source with ast, so it runs in CI without extra tools."""
import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("opset", "stats_cache", "eznas")


def modules():
    out = {}
    for pkg in PACKAGES:
        for d, _, files in os.walk(os.path.join(ROOT, pkg)):
            for f in files:
                if f.endswith(".py"):
                    rel = os.path.relpath(os.path.join(d, f), ROOT)[:-3].replace(os.sep, ".")
                    out[rel.removesuffix(".__init__")] = os.path.join(d, f)
    return out


def imports(path, names, top_level_only=False):
    """Module names imported by the file (ours resolved to modules when they are)."""
    tree = ast.parse(open(path).read())
    nodes = tree.body if top_level_only else ast.walk(tree)
    got = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            got |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                got.add(sub if sub in names else node.module)
    return got


def graph(top_level_only=False):
    mods = modules()
    return {m: imports(p, mods, top_level_only) for m, p in mods.items()}


def test_imports_point_upstream_only():
    bad = []
    for mod, deps in graph().items():
        for dep in deps:
            root = dep.split(".")[0]
            if mod.startswith("opset") and root in ("eznas", "stats_cache"):
                bad.append(f"{mod} -> {dep} (opset imports neither eznas nor stats_cache)")
            if mod.startswith("stats_cache") and root == "eznas":
                bad.append(f"{mod} -> {dep} (stats_cache knows nothing of eznas)")
            if root == "deap" and not mod.startswith("eznas.evolve"):
                bad.append(f"{mod} -> deap (deap only under eznas/evolve)")
            is_cli = mod.startswith("eznas.cli") or mod.endswith("__main__")
            if dep.startswith("eznas.cli") and not is_cli:
                bad.append(f"{mod} -> {dep} (library code does not import the command line)")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("top_level_only", [True, False])
def test_no_import_cycles(top_level_only):
    """None among module-level imports, nor counting the imports made inside functions."""
    ours = modules()
    g = {m: {d for d in deps if d in ours} for m, deps in graph(top_level_only).items()}
    # Tarjan's strongly connected components
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    for v in g:
        if v not in index:
            visit(v)
    assert not sccs, f"import cycles: {sccs}"


def test_the_checker_sees_a_violation(tmp_path):
    """The rules above can fail: a stats_cache module importing eznas is caught."""
    f = tmp_path / "m.py"
    f.write_text("import os\nfrom eznas.program import parse\ndef f():\n    import deap\n")
    assert imports(str(f), {"eznas.program"}) == {"os", "eznas.program", "deap"}
    assert imports(str(f), {"eznas.program"}, top_level_only=True) == {"os", "eznas.program"}
