import pytest
import torch

from eznas.evolve.primitives import PSET, from_string, make_toolbox
from eznas.program import ProgramError, format_prefix, parse, run, score_network, to_scalar
from opset import OpError

EZNAS_A = "frobenius_norm(sigmoid(logdet(sign(T3G_N))))"


def test_parse_format_round_trip_and_deap_strings():
    assert parse(EZNAS_A) == ("frobenius_norm", "sigmoid", "logdet", "sign", "T3G_N")
    assert format_prefix(parse(EZNAS_A)) == EZNAS_A
    assert format_prefix(parse("add( T1_D ,mul(T3, T2G_P))")) == "add(T1_D, mul(T3, T2G_P))"
    import random

    random.seed(1)
    tb = make_toolbox()
    for _ in range(50):
        ind = tb.individual()
        assert format_prefix(parse(str(ind))) == str(ind)
        assert str(from_string(str(ind))) == str(ind)
    from eznas.evolve.primitives import Tensor

    assert len(PSET.primitives[Tensor]) == 34 and len(PSET.terminals[Tensor]) == 22
    assert sorted(p.name for p in PSET.primitives[PSET.ret]) == ["layer_mean", "layer_sum"]


@pytest.mark.parametrize("bad", ["add(T1_D)", "nope(T1_D)", "T1_X", "sigmoid(T1_D", "sigmoid(T1_D) T3", "add(T1_D T3)"])
def test_malformed_programs_raise(bad):
    with pytest.raises(ProgramError):
        parse(bad)


def test_interpreter_hand_values_and_depth():
    env = {"T3": torch.tensor([[1.0, -2.0], [3.0, 0.0]]), "T1_D": torch.tensor([[2.0, 2.0], [1.0, 1.0]])}
    out = run(parse("l1_norm(mul(T3, T1_D))"), env)  # per layer: |[2,-4]|/2 = 3, |[3,0]|/2 = 1.5
    assert torch.allclose(out, torch.tensor([3.0, 1.5]))
    # the interpreter and the formatter hold no recursion (any depth of prefix tokens); the
    # parser refuses a program deeper than MAX_PROGRAM_DEPTH (tests/test_hostile.py)
    assert run(("sigmoid",) * 50000 + ("T3",), env).shape == (2, 2)
    wide = "add(" * 3000 + "T3" + ", T3)" * 3000
    assert format_prefix(("add",) * 3000 + ("T3",) * 3001) == wide
    with pytest.raises(ProgramError, match="deeper than"):
        parse("sigmoid(" * 50000 + "T3" + ")" * 50000)
    assert torch.allclose(to_scalar(torch.tensor([[3.0, 4.0]]), "l2"), torch.tensor([5.0], dtype=torch.float64))


def test_network_score_is_mean_over_layers_of_per_layer_means():
    g1 = ([0, 2], {"T3": torch.tensor([[1.0, 3.0], [5.0, 7.0]])})  # layer means 2, 6
    g2 = ([1], {"T3": torch.tensor([[10.0, 10.0, 10.0]])})  # 10
    assert score_network(parse("abs(T3)"), [g1, g2]) == pytest.approx((2 + 6 + 10) / 3)
    assert score_network(parse("abs(T3)"), [g1, g2], aggregate="sum") == pytest.approx(2 + 6 + 10)
    with pytest.raises(ValueError, match="aggregate"):
        score_network(parse("abs(T3)"), [g1], aggregate="max")
    with pytest.raises(OpError):
        score_network(parse("det(T3)"), [g2])


def test_eznas_a_round_trips_through_string_interpreter_and_export(tmp_path):
    import importlib.util

    from eznas.spaces.bench import build_bench_nb201
    import eznas
    from eznas.export import export_file
    from eznas.program import infix
    from stats_cache.collect import collect, group_layers

    torch.manual_seed(0)
    net = build_bench_nb201("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|")
    x = torch.randn(1, 1, 8, 8)
    stats = collect(net, x, seed=0)
    assert format_prefix(parse(str(from_string(EZNAS_A)))) == f"layer_mean({EZNAS_A})"  # no wrapper = mean over layers
    assert score_network(parse(f"layer_mean({EZNAS_A})"), group_layers(stats)) == score_network(parse(EZNAS_A), group_layers(stats))
    interpreted = score_network(parse(EZNAS_A), group_layers(stats))
    # by hand: per layer mean of sigmoid(logdet(sign(T3G_N))) over the (k x k) filters, then Frobenius norm
    manual = []
    for s in stats:
        ld = torch.nan_to_num(torch.logdet(torch.sign(s.tensors["T3G_N"])), nan=0.0)
        manual.append(torch.linalg.vector_norm(torch.sigmoid(ld)).item())
    assert interpreted == pytest.approx(sum(manual) / len(manual), rel=1e-6)
    path = export_file(str(tmp_path / "programs.py"), [{"program": EZNAS_A, "sign": 1.0, "min_tau": 0.5, "taus": {"a": 0.5}},
                                                      {"program": "l1_norm(T1G_D)", "sign": -1.0},
                                                      {"program": "layer_sum(l1_norm(T1G_D))", "sign": 1.0}])
    spec = importlib.util.spec_from_file_location("exported", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert "frobenius_norm(sigmoid(logdet(sign(T3G_N))))" in mod.program_0.__doc__
    assert mod.score([s.tensors for s in stats], mod.program_0) == pytest.approx(interpreted, rel=1e-9)
    assert eznas.measures(net, x, [mod.program_0])['program_0'] == pytest.approx(interpreted, rel=1e-9)
    l1 = score_network(parse("l1_norm(T1G_D)"), group_layers(stats))
    assert mod.score([s.tensors for s in stats], mod.program_1) == pytest.approx(-l1, rel=1e-9)
    summed = score_network(parse("layer_sum(l1_norm(T1G_D))"), group_layers(stats))
    assert summed == pytest.approx(l1 * len(stats), rel=1e-9) and mod.program_2.aggregate == "sum"
    assert mod.score([s.tensors for s in stats], mod.program_2) == pytest.approx(summed, rel=1e-9)
    assert eznas.measures(net, x, [mod.program_2])['program_2'] == pytest.approx(summed, rel=1e-9)
    assert infix(parse("add(mul(T3, T1_D), sigmoid(T3))")) == "(T3 * T1_D) + sigmoid(T3)"
    src = open(path).read()
    for dep in ("import eznas", "from eznas", "import opset", "from opset", "import stats_cache", "from stats_cache"):
        assert dep not in src
