"""DEAP primitive set and creator classes (created once, at import, so workers and
checkpoints can unpickle; workers receive program strings anyway)."""
import operator

from deap import base, creator, gp, tools

from opset import OPS
from stats_cache.schema import KINDS

if not hasattr(creator, "EznasFitness"):
    creator.create("EznasFitness", base.Fitness, weights=(1.0,))
    creator.create("EznasProgram", gp.PrimitiveTree, fitness=creator.EznasFitness)


def _never_called(*_):  # programs are interpreted by eznas.program, never compiled
    raise RuntimeError("EZNAS programs are interpreted, not compiled")


def make_pset():
    pset = gp.PrimitiveSet("EZNAS", 0)
    for op in OPS:
        pset.addPrimitive(_never_called, op.arity, name=op.name)
    for k in KINDS:
        pset.addTerminal(k, name=k)
    return pset


PSET = make_pset()


def make_toolbox(min_depth=2, max_depth=10, tournament=4):
    tb = base.Toolbox()
    tb.register("expr", gp.genHalfAndHalf, pset=PSET, min_=min_depth, max_=max_depth)
    tb.register("individual", tools.initIterate, creator.EznasProgram, tb.expr)
    tb.register("mate", gp.cxOnePoint)
    tb.register("expr_mut", gp.genFull, min_=0, max_=2)
    tb.register("mutate", gp.mutUniform, expr=tb.expr_mut, pset=PSET)
    tb.register("select", tools.selTournament, tournsize=tournament)
    limit = gp.staticLimit(key=operator.attrgetter("height"), max_value=max_depth)
    tb.decorate("mate", limit)
    tb.decorate("mutate", limit)
    return tb


def from_string(text):
    return creator.EznasProgram(gp.PrimitiveTree.from_string(text, PSET))
