"""DEAP primitive set and creator classes (created once, at import, so workers and
checkpoints can unpickle; workers receive program strings anyway).

Strongly typed: every op maps tensors to a tensor; the root is a layer aggregation,
``layer_mean`` or ``layer_sum`` (tensor -> score), so evolution chooses how per-layer
values combine over a network.  Crossover never swaps the root (DEAP's typed one-point
crossover starts below it); mutation at the root flips the aggregation.
"""
import operator
import random

from deap import base, creator, gp, tools

from eznas.program import AGGREGATORS, parse, split_factor
from opset import OPS
from stats_cache.schema import KINDS

if not hasattr(creator, "EznasFitness"):
    creator.create("EznasFitness", base.Fitness, weights=(1.0,))
    creator.create("EznasProgram", gp.PrimitiveTree, fitness=creator.EznasFitness)


class Tensor:
    """Type of a per-layer tensor value."""


class Score:
    """Type of a network score (the root)."""


def _never_called(*_):  # programs are interpreted by eznas.program, never compiled
    raise RuntimeError("EZNAS programs are interpreted, not compiled")


def make_pset():
    pset = gp.PrimitiveSetTyped("EZNAS", [], Score)
    for name in AGGREGATORS:
        pset.addPrimitive(_never_called, [Tensor], Score, name=name)
    for op in OPS:
        pset.addPrimitive(_never_called, [Tensor] * op.arity, Tensor, name=op.name)
    for k in KINDS:
        pset.addTerminal(k, Tensor, name=k)
    return pset


PSET = make_pset()


def mutate(ind, pset=PSET):
    """Uniform subtree mutation (a new random subtree of depth 0..2 at a random node); at
    the root, the other layer aggregation."""
    index = random.randrange(len(ind))
    if index == 0:
        other = "layer_sum" if ind[0].name == "layer_mean" else "layer_mean"
        ind[0] = pset.mapping[other]
        return (ind,)
    ind[ind.searchSubtree(index)] = gp.genFull(pset, 0, 2, type_=ind[index].ret)
    return (ind,)


def make_toolbox(min_depth=2, max_depth=10, tournament=4):
    tb = base.Toolbox()
    tb.register("expr", gp.genHalfAndHalf, pset=PSET, min_=min_depth, max_=max_depth)
    tb.register("individual", tools.initIterate, creator.EznasProgram, tb.expr)
    tb.register("mate", gp.cxOnePoint)
    tb.register("mutate", mutate, pset=PSET)
    tb.register("select", tools.selTournament, tournsize=tournament)
    limit = gp.staticLimit(key=operator.attrgetter("height"), max_value=max_depth)
    tb.decorate("mate", limit)
    tb.decorate("mutate", limit)
    return tb


def from_string(text):
    """A DEAP individual from a program string, built from our own parser's tokens (no
    eval of any token); a program without a root aggregation gets ``layer_mean``.  An outer
    ``times_flops`` is dropped: the run's config (``size_factor``) applies it to every
    program alike."""
    prefix = split_factor(parse(text))[0]
    if prefix[0] not in AGGREGATORS:
        prefix = ("layer_mean",) + prefix
    return creator.EznasProgram([PSET.mapping[t] for t in prefix])
