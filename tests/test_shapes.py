"""Shape rules agree with the ops, and the interpreter rejects a failing program from shapes
before any arithmetic."""
import itertools
import random

import pytest
import torch

from eznas.evolve.primitives import make_toolbox
from eznas.program import infer, parse, run
from opset import BY_NAME, OPS, OpError
from opset.shapes import broadcast, matmul_shape
from stats_cache.schema import KINDS

SLICES = [(), (1,), (3,), (4,), (1, 3), (3, 1), (3, 3), (4, 3), (3, 4), (2, 3, 3), (1, 4, 3), (2, 1, 3),
          (2, 3, 4), (2, 1, 3, 3), (2, 2, 3, 3), (1, 3, 4, 4)]


def _outcome(fn, *args):
    try:
        return tuple(fn(*args))
    except OpError as e:
        return ("error", str(e))


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_each_rule_agrees_with_its_op_on_every_shape_combination(op):
    g = torch.Generator().manual_seed(op.id)
    for shapes in itertools.product(SLICES, repeat=op.arity):
        tensors = [torch.randn((2, *s), generator=g) for s in shapes]
        real = _outcome(lambda *t: op(*t).shape[1:], *tensors)
        rule = _outcome(op.shape, *shapes)
        assert rule == real, (op.name, shapes)


def test_hand_shapes():
    assert broadcast((3, 1), (1,), "add") == (3, 1)
    with pytest.raises(OpError, match="outer product"):
        broadcast((3, 1), (1, 4), "add")
    with pytest.raises(OpError, match="do not broadcast"):
        broadcast((3,), (4,), "mul")
    assert matmul_shape((2, 3, 4), (4, 5)) == (2, 3, 5)
    assert matmul_shape((4,), (2, 4, 5)) == (2, 5)
    assert matmul_shape((2, 3, 4), (4,)) == (2, 3)
    assert matmul_shape((4,), (4,)) == ()
    with pytest.raises(OpError, match="inner dimensions"):
        matmul_shape((3, 4), (3, 4))


def test_inferred_program_shapes_match_evaluation_on_layer_shaped_tensors():
    random.seed(3)
    tb = make_toolbox(max_depth=6)
    g = torch.Generator().manual_seed(0)
    # one layer group: RCB tensors of a 3x3 conv 4 -> 4 channels on a 5x5 map, batch 1
    act, w = (1, 4, 5, 5), (4, 4, 3, 3)
    env = {k: torch.randn((2, *(w if k.startswith("T3") else act)), generator=g) for k in KINDS}
    seen = {"ok": 0, "error": 0}
    for _ in range(300):
        prog = str(tb.individual())
        prefix = parse(prog)[1:]  # the per-layer body, below the root's layer aggregation
        shapes = {k: v.shape[1:] for k, v in env.items()}
        inferred = _outcome(infer, prefix, shapes)
        ops_only = _outcome(lambda: _plain_fold(prefix, env).shape[1:])
        assert inferred == ops_only, prog
        seen["error" if inferred[:1] == ("error",) else "ok"] += 1
    assert seen["ok"] > 20 and seen["error"] > 20


def _plain_fold(prefix, env):
    stack = []
    for name in reversed(prefix):
        if name in env:
            stack.append(env[name])
        else:
            op = BY_NAME[name]
            stack.append(op(*[stack.pop() for _ in range(op.arity)]))
    return stack[0]


def test_a_failing_program_runs_no_op(monkeypatch):
    calls = []

    class Spy:
        def __init__(self, op):
            self.op, self.arity, self.shape = op, op.arity, op.shape

        def __call__(self, *args):
            calls.append(self.op.name)
            return self.op(*args)

    for name in ("exp", "det", "sigmoid"):
        monkeypatch.setitem(BY_NAME, name, Spy(BY_NAME[name]))
    env = {"T1_D": torch.randn(3, 1, 4, 5, 6)}
    with pytest.raises(OpError, match="det: needs square matrices"):
        run(parse("sigmoid(det(exp(T1_D)))"), env)
    assert calls == []
    run(parse("sigmoid(exp(T1_D))"), env)
    assert calls == ["exp", "sigmoid"]
