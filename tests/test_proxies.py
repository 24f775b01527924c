"""The Python API: eznas.measures on any model (left exactly as it was), load_programs,
find_layers; and the three ways a network's score is computed (engine, measures on a
program string, an exported function) agree on random programs."""
import importlib.util
import math
import random

import pytest
import torch
import torch.nn as nn

import eznas
from eznas.batch import NetBatch
from eznas.spaces.bench import build_bench_nb201
from eznas.evolve.primitives import make_toolbox
from eznas.export import export_file
from eznas.program import parse
from stats_cache.collect import collect, group_layers
from stats_cache.layers import NoLayersError

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"


class Small(nn.Module):
    """A stem conv fed by the input, then two ReLU-Conv-BN layers."""

    def __init__(self, functional=False):
        super().__init__()
        self.functional = functional
        self.stem, self.bn0 = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.relu1, self.conv1, self.bn1 = nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.relu2, self.conv2, self.bn2 = nn.ReLU(), nn.Conv2d(8, 8, 1), nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        act = torch.relu if self.functional else None
        x = self.bn0(self.stem(x))
        x = self.bn1(self.conv1(act(x) if act else self.relu1(x)))
        x = self.bn2(self.conv2(act(x) if act else self.relu2(x)))
        return self.fc(x.mean((2, 3)))


def batch(n=4):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 3, 16, 16, generator=g), torch.randint(10, (n,), generator=g)


NAMES = ["eznas_a", "eznas_a_sum", "synflow", "snip", "grasp", "fisher", "grad_norm", "naswot", "jacob_cov",
         "params", "flops", "layer_sum(l1_norm(T1G_D))"]


@pytest.mark.parametrize("train", [False, True])
def test_measures_leaves_the_model_exactly_as_it_was(train):
    torch.manual_seed(0)
    m = Small().train(train)
    m(batch()[0])  # running statistics differ from their initial values
    before = {k: v.clone() for k, v in m.state_dict().items()}
    out = eznas.measures(m, batch(), NAMES)
    assert list(out) == NAMES and all(isinstance(v, float) for v in out.values())
    assert m.training == train and all(p.grad is None for p in m.parameters())
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())
    assert all(mod.inplace is False for mod in m.modules() if isinstance(mod, nn.ReLU))


def test_inputs_may_be_a_tensor_a_pair_or_a_dataloader():
    torch.manual_seed(0)
    m = Small()
    x, y = batch()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4)
    a = eznas.measures(m, x, ["eznas_a", "synflow"])
    assert a == eznas.measures(m, (x, y), ["eznas_a", "synflow"]) == eznas.measures(m, loader, ["eznas_a", "synflow"])
    assert eznas.measures(m, loader, ["snip"]) == eznas.measures(m, (x, y), ["snip"])
    with pytest.raises(ValueError, match="snip needs labels"):
        eznas.measures(m, x, ["snip"])
    with pytest.raises(ValueError, match="neither a baseline"):
        eznas.measures(m, x, ["no_such_proxy("])


def test_loss_fn_is_the_loss_of_loss_based_proxies():
    torch.manual_seed(0)
    m = Small()
    plain = eznas.measures(m, batch(), "snip")["snip"]
    doubled = eznas.measures(m, batch(), "snip", loss_fn=lambda out, y: 2 * nn.functional.cross_entropy(out, y))["snip"]
    assert doubled == pytest.approx(2 * plain, rel=1e-5)


def test_layer_finding_says_what_it_left_out_and_names_functional_relus(caplog):
    torch.manual_seed(0)
    found, left = eznas.find_layers(Small(), batch()[0])
    assert found == ["conv1", "conv2"] and left == [("stem", "its input is the network's input (a stem convolution)")]
    with caplog.at_level("INFO", logger="eznas.proxies"):
        eznas.measures(Small(), batch()[0], "eznas_a")
    assert "2 RCB layers from 3 Conv2d; left out 1: stem" in caplog.text
    class Mixed(Small):  # conv2's ReLU is functional: scored on conv1 only, and told so
        def forward(self, x):
            x = self.bn0(self.stem(x))
            x = self.bn1(self.conv1(self.relu1(x)))
            return self.fc(self.bn2(self.conv2(torch.relu(x))).mean((2, 3)))

    caplog.clear()
    with caplog.at_level("INFO", logger="eznas.proxies"):
        eznas.measures(Mixed(), batch()[0], "eznas_a")
    warned = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and "conv2 (its input comes from no module (a functional op" in warned[0].getMessage()
    with pytest.raises(NoLayersError, match=r"3 Conv2d and 0 nn.ReLU modules ran in the forward pass\); its ReLUs are functional"):
        eznas.measures(Small(functional=True), batch()[0], "eznas_a")


def random_programs(n, seed):
    random.seed(seed)
    tb = make_toolbox(2, 5, 4)
    out = []
    while len(out) < n:
        text = str(tb.individual())
        out.append(text)
    return out


def test_engine_measures_and_exported_functions_score_alike(tmp_path):
    """One network score, three implementations: the engine's NetBatch on collected
    statistics, eznas.measures on the program string, and the exported function."""
    torch.manual_seed(3)
    net = build_bench_nb201(ARCH)
    x = torch.randn(2, 1, 8, 8)
    groups = group_layers(collect(net, x, seed=0))
    progs = random_programs(40, seed=1)
    engine = NetBatch([groups])
    rows = [{"program": p, "sign": 1.0} for p in progs]
    spec = importlib.util.spec_from_file_location("exported_test", export_file(str(tmp_path / "p.py"), rows))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    compared = 0
    for k, p in enumerate(progs):
        want = float(engine.scores(parse(p), "mean")[0])
        got = eznas.measures(net, x, [p])[p]
        try:
            exported = eznas.measures(net, x, [getattr(mod, f"program_{k}")])[f"program_{k}"]
        except Exception:  # an op error: the engine gives NaN for it
            exported = float("nan")
        if want != want:  # NaN: the program cannot apply to this network, in every path
            assert got != got
            continue
        assert got == pytest.approx(want, rel=1e-6, abs=1e-9)
        assert exported == pytest.approx(want, rel=1e-6, abs=1e-9)
        compared += 1
    assert compared >= 20


def test_load_programs_reads_a_finished_run(tmp_path, synthetic_store, cli):
    code, _, err = cli("evolve", "--store", synthetic_store, "--population", "6", "--mu", "3", "--lambda", "6",
                       "--task-nets", "20", "--validation-nets", "6", "--max-depth", "4", "--generations", "1",
                       "--quiet", "--runs-root", tmp_path, "--name", "r")
    assert code == 0, err
    import json

    hof = [r for r in json.load(open(tmp_path / "r" / "hall_of_fame.json"))["programs"] if r["function"]]
    progs = eznas.load_programs(str(tmp_path / "r"))
    assert [p.text for p in progs] == [r["program"] for r in hof] and progs[0].name == "program_0"
    spec = importlib.util.spec_from_file_location("exported_r", tmp_path / "r" / "programs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert [p.name for p in progs] == [f.__name__ for f in module.PROGRAMS]  # the list programs.py exports
    assert progs[0].validation_min_tau == hof[0]["validation_min_tau"] and progs[0].formula
    torch.manual_seed(0)
    net = build_bench_nb201(ARCH)
    x = torch.randn(2, 1, 8, 8)
    assert progs[0](net, x) == pytest.approx(progs[0].sign * eznas.measures(net, x, [progs[0].text])[progs[0].text])
    with pytest.raises(ValueError, match="hall_of_fame.json: missing"):
        eznas.load_programs(str(tmp_path))


def test_load_programs_holds_the_list_programs_py_exports(tmp_path):
    """The hall of fame ranks more programs than are exported (the best five): load_programs
    returns the exported ones, as programs.py does, not the rest."""
    import json

    texts = ["layer_mean(l1_norm(T1G_D))", "layer_mean(l1_norm(T4_N))", "layer_mean(frobenius_norm(T3))",
             "layer_mean(l1_norm(T2_D))", "layer_mean(numel(T3G_N))", "layer_mean(l1_norm(T3G_D))",
             "layer_mean(l1_norm(T4G_P))"]
    rows = [{"program": t, "function": f"program_{k}" if k < 5 else None, "sign": 1.0, "validation_min_tau": 0.5 - k / 10}
            for k, t in enumerate(texts)]
    run = tmp_path / "run"
    run.mkdir()
    (run / "hall_of_fame.json").write_text(json.dumps({"programs": rows}))
    (run / "config.json").write_text("{}")
    export_file(str(run / "programs.py"), rows[:5])
    spec = importlib.util.spec_from_file_location("exported_run", run / "programs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    progs = eznas.load_programs(str(run))
    assert [p.name for p in progs] == [f.__name__ for f in module.PROGRAMS] == [f"program_{k}" for k in range(5)]
    assert [p.text for p in progs] == texts[:5]
    from eznas.score import run_program

    with pytest.raises(ValueError, match="has no program_6"):
        run_program(f"{run}:program_6")


def test_batch_size_messages_speak_the_python_callers_language():
    x = batch(1)[0]
    with pytest.raises(ValueError, match="pass a batch of 2 or more inputs") as e:
        eznas.measures(Small(), x, ["naswot"])
    assert "--batch-size" not in str(e.value)


def test_every_op_exports_and_the_module_needs_torch_only(tmp_path):
    """A program per op: the generated module compiles, imports in a fresh interpreter
    with only torch (no eznas, opset or stats_cache on the path) and scores as the engine."""
    import subprocess
    import sys

    from opset import OPS

    progs = [f"{op.name}({', '.join(['T2_D', 'T4_N'][:op.arity])})" for op in OPS]
    path = export_file(str(tmp_path / "all.py"), [{"program": p} for p in progs])
    code = ("import sys; sys.modules['eznas'] = sys.modules['opset'] = sys.modules['stats_cache'] = None\n"
            "import importlib.util, torch\n"
            f"spec = importlib.util.spec_from_file_location('m', {path!r}); m = importlib.util.module_from_spec(spec)\n"
            "spec.loader.exec_module(m); print(len(m.OPS), len(m.PROGRAMS))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.split() == ["34", "34"], r.stderr
    spec = importlib.util.spec_from_file_location("all_ops", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    torch.manual_seed(1)
    net = build_bench_nb201(ARCH)
    x = torch.randn(2, 1, 8, 8)
    engine = NetBatch([group_layers(collect(net, x, seed=0))])
    agree = 0
    for k, p in enumerate(progs):
        want = float(engine.scores(parse(p), "mean")[0])
        if want != want:
            continue
        assert eznas.measures(net, x, [getattr(mod, f"program_{k}")])[f"program_{k}"] == pytest.approx(want, rel=1e-6, abs=1e-9), p
        agree += 1
    assert agree >= 25


def test_an_exported_function_collects_only_the_kinds_it_reads(tmp_path, monkeypatch):
    import importlib.util

    import stats_cache.collect as sc
    from eznas.export import export_file

    rows = [{"program": "layer_mean(l1_norm(T1G_N))", "min_tau": 0.5, "taus": {"a": 0.5}, "sign": 1.0}]
    spec = importlib.util.spec_from_file_location("exported_kinds", export_file(str(tmp_path / "p.py"), rows))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    asked, real = [], sc.collect

    def spy(*a, **k):
        asked.append(k.get("kinds"))
        return real(*a, **k)

    monkeypatch.setattr(sc, "collect", spy)
    torch.manual_seed(0)
    net = build_bench_nb201(ARCH)
    x = torch.randn(2, 1, 8, 8)
    got = eznas.measures(net, x, [mod.program_0])["program_0"]
    assert asked == [{"T1G_N"}]
    assert got == pytest.approx(eznas.measures(net, x, ["layer_mean(l1_norm(T1G_N))"])["layer_mean(l1_norm(T1G_N))"], rel=1e-6)

    def mixed(layer):  # one literal key, one computed: scored on all 22 after the first try fails
        return float(layer["T1_D"].mean() + layer["".join(["T2_", "N"])].mean())

    asked.clear()
    assert math.isfinite(eznas.measures(net, x, [mixed])["mixed"]) and asked[0] == {"T1_D"} and asked[1] is None
