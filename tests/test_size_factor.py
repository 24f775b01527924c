"""``times_flops(...)``: a network's score times its FLOPs, alike on every path (store,
model, exported file, search)."""
import importlib.util
import json
import os

import numpy as np
import pytest
import torch

from eznas.batch import NetBatch
from eznas.evolve.config import Config
from eznas.evolve.search import search
from eznas.export import export_file
from eznas.parallel import score_items
from eznas.program import ProgramError, parse, split_factor, with_factor
from eznas.spaces.complexity import count_flops
from stats_cache.store import StatsStore
from tests.conftest import fake_layers

PROGRAM = "layer_sum(l1_norm(T1G_D))"


def _flops_store(url, n=16):
    rng = np.random.default_rng(5)
    store = StatsStore(url, "a", config={"synthetic": True, "dtype": "float32"})
    for s in ("a", "b"):
        for j in range(n):
            acc = float(rng.uniform(50, 95))
            store.write_network(s, f"n{j:06d}", fake_layers(rng, acc, 2 + j % 3),
                                {"accuracy": acc, "arch": f"{s}{j}", "flops": 10.0 + j, "params": 1.0})
    return url


def test_parse_and_wrap():
    assert split_factor(parse(f"times_flops({PROGRAM})")) == (parse(PROGRAM), "flops")
    assert with_factor(PROGRAM, "flops") == f"times_flops({PROGRAM})"
    assert with_factor(with_factor(PROGRAM, "flops"), "flops") == f"times_flops({PROGRAM})"  # not twice
    assert with_factor(PROGRAM, "") == PROGRAM
    for bad in ("layer_sum(times_flops(l1_norm(T1G_D)))", "times_flops(times_flops(T1G_D))", "l1_norm(times_flops(T1G_D))"):
        with pytest.raises(ProgramError, match="whole program"):
            parse(bad)


def test_store_scores_are_the_program_times_the_recorded_flops(tmp_path):
    url = _flops_store(str(tmp_path / "s.zarr"))
    items = [("a", f"n{j:06d}") for j in range(16)] + [("b", "n000003")]
    plain, times = score_items(url, [PROGRAM, f"times_flops({PROGRAM})"], items, jobs=1)
    flops = np.array([10.0 + int(k[1:]) for _, k in items])
    np.testing.assert_allclose(times, plain * flops, rtol=1e-12)
    assert not np.allclose(times, plain)


def test_a_batch_without_flops_refuses_a_times_flops_program(synthetic_store):
    groups = StatsStore(synthetic_store, "r").read_network("a", "n000000").groups
    with pytest.raises(ValueError, match="flops"):
        NetBatch([groups]).scores(parse(f"times_flops({PROGRAM})"))


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                               torch.nn.Conv2d(4, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                               torch.nn.Flatten(), torch.nn.Linear(4 * 8 * 8, 10))


def test_model_and_exported_scores_multiply_by_the_models_flops(tmp_path):
    import eznas

    model, x = _model(), torch.randn(2, 3, 8, 8)
    flops = count_flops(model, (1, 3, 8, 8))
    assert flops == pytest.approx((4 * 64 * 27 + 4 * 64 * 36 + 256 * 10) / 1e6)
    got = eznas.measures(model, x, [PROGRAM, f"times_flops({PROGRAM})"], pattern="cbr")
    assert got[f"times_flops({PROGRAM})"] == pytest.approx(got[PROGRAM] * flops, rel=1e-12)
    path = export_file(str(tmp_path / "programs.py"), [{"program": f"times_flops({PROGRAM})", "sign": 1.0}])
    spec = importlib.util.spec_from_file_location("exported_times_flops", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.program_0.times == "flops"
    exported = eznas.measures(model, x, [mod.program_0], pattern="cbr")["program_0"]
    assert exported == pytest.approx(got[f"times_flops({PROGRAM})"], rel=1e-6)
    with pytest.raises(ValueError, match="flops="):
        mod.score([{"T1G_D": torch.ones(1, 2, 2)}], mod.program_0)


def test_a_search_with_size_factor_scores_and_exports_times_flops(tmp_path):
    url = _flops_store(str(tmp_path / "s.zarr"))
    cfg = Config(generations=1, population=6, mu=3, lambda_=6, spaces_per_gen=2, task_nets=16, validation_nets=5,
                 max_depth=4, seed=1, store=url, size_factor="flops", seed_programs=[PROGRAM])
    res = search(cfg, str(tmp_path / "run"), progress=False)
    hof = json.load(open(os.path.join(res.run_dir, "hall_of_fame.json")))
    assert hof["programs"] and all(r["program"].startswith("times_flops(") for r in hof["programs"])
    # the seed program's search fitness is that of the product, not of the program alone
    from eznas.evolve.task import Task
    from eznas.fitness import evaluate

    task = Task(url, task_nets=16, validation_nets=5, seed=1)
    (plain,), _ = evaluate([PROGRAM], url, task.full(), task.accuracy)
    (times,), _ = evaluate([f"times_flops({PROGRAM})"], url, task.full(), task.accuracy)
    row = next(r for r in hof["programs"] if r["program"] == f"times_flops({PROGRAM})")
    assert row["search_min_tau"] == pytest.approx(times) and times != pytest.approx(plain)
    with pytest.raises(ValueError, match="size_factor"):
        Config(size_factor="params").check()


def test_the_shipped_discovered_proxy_is_a_name_like_a_baseline():
    import eznas
    from eznas.discovered import DISCOVERED
    from eznas.heldout import BASELINE_NAMES
    from eznas.score import make_scorer

    from eznas.spaces.sources import load_ground_truth

    text = DISCOVERED["eznas_gf"]["program"]
    assert split_factor(parse(text))[1] == "flops" and "eznas_gf" in BASELINE_NAMES
    gt = load_ground_truth("nb201", "cifar10")
    torch.manual_seed(0)
    model, x = gt.build(gt.archs[7]), torch.randn(1, 3, 32, 32)
    body = text[len("times_flops("):-1]
    got = eznas.measures(model, x, ["eznas_gf", body])
    assert got[body] > 0 and count_flops(model, (1, 3, 32, 32)) > 1
    assert got["eznas_gf"] == pytest.approx(got[body] * count_flops(model, (1, 3, 32, 32)), rel=1e-12)
    assert make_scorer("eznas_gf")(model, x) == pytest.approx(got["eznas_gf"], rel=1e-12)


def test_test_sets_leave_out_the_networks_a_shipped_proxy_was_chosen_on(synthetic_store):
    from eznas.collection import sample_indices
    from eznas.evolve.builtin import seen_archs
    from eznas.evolve.finish import plan_tests
    from eznas.evolve.task import Task
    from eznas.spaces.sources import load_ground_truth

    gt = load_ground_truth("nb201", "cifar10")
    seen = seen_archs("nb201")  # the built-in task's first 100 NB201 networks (seed 0)
    assert seen == {str(gt.archs[i]) for i in sample_indices(len(gt), 100, 0)}
    cfg = Config(tests=["nb201:cifar10:3000"], task_nets=20, validation_nets=6)
    (_, _, idx, _, n_excl), = plan_tests(cfg, Task(synthetic_store, task_nets=20, validation_nets=6))
    assert n_excl == 100 and len(idx) == 3000 and not seen & {str(gt.archs[i]) for i in idx}
