import csv
import json
import os

import numpy as np
import pytest

from eznas.evolve.algorithm import Evolution
from eznas.evolve.config import Config
from eznas.evolve.rundir import RunDir
from eznas.evolve.task import Task
from eznas.fitness import evaluate
from eznas.parallel import score_items


def test_known_correlation_signed(synthetic_store):
    task = Task(synthetic_store, seed=0, validation_nets=6)
    sample = task.sample(0, 4, 8)
    assert set(sample) == {"a", "b"} and all(len(v) == 8 for v in sample.values())
    fits, taus = evaluate(["normalized_sum(T3)", "sub(zeros_like(T3), T3)", "numel(T3)", "reciprocal(zeros_like(T3))"],
                          synthetic_store, sample, task.accuracy)
    assert fits[0] == pytest.approx(1.0) and taus[0] == {"a": pytest.approx(1.0), "b": pytest.approx(1.0)}
    assert fits[1] == pytest.approx(-1.0)  # reversed ranking is penalised, not rewarded
    assert fits[2] == -1.0  # constant score: tau undefined
    assert fits[3] is None  # inf: invalid


def test_results_do_not_depend_on_workers(synthetic_store):
    task = Task(synthetic_store, validation_nets=6)
    items = [(s, k) for s, ks in task.full().items() for k in ks]
    progs = ["l1_norm(T1G_D)", "frobenius_norm(sigmoid(logdet(sign(T3G_N))))", "hamming_dist(T2_D, T4_N)"]
    one = score_items(synthetic_store, progs, items, jobs=1)
    two = score_items(synthetic_store, progs, items, jobs=2)
    assert np.array_equal(one, two)


def _cfg(tmp_path, name, generations=3):
    return Config(generations=generations, population=8, mu=4, lambda_=8, spaces_per_gen=2, nets_per_space=6,
                  task_nets=20, validation_nets=6, max_depth=5, seed=3, run_dir=str(tmp_path / name))


def _run(cfg, store):
    run = RunDir(cfg.run_dir)
    run.write_config(cfg.to_dict())
    evo = Evolution(cfg, Task(store, seed=cfg.seed, validation_nets=cfg.validation_nets), run, progress=False)
    pop, hof = evo.run_all()
    return evo, [str(i) for i in pop], [i.fitness.values[0] for i in pop]


def test_population_valid_and_log_and_checkpoint(tmp_path, synthetic_store):
    cfg = _cfg(tmp_path, "r1")
    evo, pop, fits = _run(cfg, synthetic_store)
    task = Task(synthetic_store, seed=cfg.seed, validation_nets=cfg.validation_nets)
    assert len(pop) == cfg.population and all(task.valid(p) for p in pop)
    assert all(-1 <= f <= 1 for f in fits)
    log = open(os.path.join(cfg.run_dir, "log.csv")).read().splitlines()
    assert len(log) == 1 + cfg.generations + 1
    ck = json.load(open(os.path.join(cfg.run_dir, "checkpoint.json")))
    assert ck["gen"] == cfg.generations and [p for p, _ in ck["population"]] == pop


@pytest.mark.parametrize("fixed_sample", [False, True])  # True: every generation on all search networks
def test_resume_equals_uninterrupted(tmp_path, synthetic_store, monkeypatch, fixed_sample):
    def cfg_of(name):
        c = _cfg(tmp_path, name)
        if fixed_sample:
            c.nets_per_space, c.spaces_per_gen = 0, 99
        return c

    _, pop_full, fit_full = _run(cfg_of("full"), synthetic_store)
    cfg = cfg_of("cut")
    calls = {"n": 0}
    orig = Evolution._record

    def record_then_die(self, *a):
        orig(self, *a)
        calls["n"] += 1
        if calls["n"] == 2:  # killed right after generation 1's checkpoint
            raise KeyboardInterrupt

    monkeypatch.setattr(Evolution, "_record", record_then_die)
    with pytest.raises(KeyboardInterrupt):
        _run(cfg, synthetic_store)
    monkeypatch.setattr(Evolution, "_record", orig)
    assert json.load(open(os.path.join(cfg.run_dir, "checkpoint.json")))["gen"] == 1
    _, pop_res, fit_res = _run(cfg, synthetic_store)
    assert pop_res == pop_full and fit_res == fit_full

    def log(name):  # every column but the time
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(open(tmp_path / name / "log.csv"))]

    assert log("cut") == log("full")


def test_config_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="unknown config keys"):
        Config.from_sources(overrides={"popsize": 3})
    p = tmp_path / "c.toml"
    p.write_text("generations = [")
    with pytest.raises(ValueError, match="c.toml"):
        Config.from_sources(str(p))


def test_two_plus_resume_two_equals_four_and_cli_smoke(tmp_path, synthetic_store, cli):
    def main(args):
        code, out, err = cli("evolve", *args)
        assert code == 0, err
        return out

    common = ["--store", synthetic_store, "--population", "8", "--mu", "4", "--lambda", "8", "--nets-per-space", "6",
              "--task-nets", "20", "--validation-nets", "6", "--max-depth", "5", "--seed", "5", "--quiet", "--runs-root", str(tmp_path)]
    main(common + ["--generations", "4", "--name", "four"])
    out = main(common + ["--generations", "2", "--name", "two"])
    assert "programs.py" in out and "best programs" in out
    last = out.rstrip().splitlines()[-1]  # the verdict closes the run, as in heldout.md and the hall of fame
    assert last.startswith("verdict: program_0 beats params and flops on ")
    assert open(tmp_path / "two" / "heldout.md").read().rstrip().endswith(last)
    assert json.load(open(tmp_path / "two" / "hall_of_fame.json"))["verdict"] == last
    main(["--resume", str(tmp_path / "two"), "--generations", "4", "--quiet"])
    four = json.load(open(tmp_path / "four" / "checkpoint.json"))
    two = json.load(open(tmp_path / "two" / "checkpoint.json"))
    assert two["gen"] == four["gen"] == 4
    assert two["population"] == four["population"]
    assert two["hof"] == four["hof"]
    assert os.path.exists(tmp_path / "four" / "programs.py") and os.path.exists(tmp_path / "four" / "fitness.png")
    code, _, err = cli("evolve", "--resume", str(tmp_path / "two"), "--population", "9")
    assert code == 2 and "only" in err


def test_a_test_set_that_cannot_be_built_fails_before_the_search(tmp_path, synthetic_store, cli):
    args = ["evolve", "--store", synthetic_store, "--task-nets", "20", "--validation-nets", "6", "--quiet",
            "--runs-root", str(tmp_path), "--name", "t"]
    code, _, err = cli(*args, "--test", "bench_sss:digits:5000")  # the table has 1000 networks
    assert code == 2 and "--test bench_sss:digits:5000" in err
    code, _, err = cli(*args, "--test", "nats_sss:cifar10:5")  # no ground truth without a file
    assert code == 2 and "--test nats_sss:cifar10:5" in err
    assert not os.path.exists(tmp_path / "t" / "checkpoint.json")
    assert not [p for p in os.listdir(tmp_path) if p.startswith("t")]  # a failed start leaves no run directory behind


def test_a_failed_start_leaves_no_run_directory_but_never_removes_one_that_held_something(tmp_path, cli):
    from eznas.evolve.search import search

    code, _, err = cli("evolve", "--store", tmp_path / "missing.zarr", "--runs-root", tmp_path / "runs", "--quiet")
    assert code == 2 and "missing.zarr" in err
    assert os.listdir(tmp_path / "runs") == []  # the run directory made for it is gone
    cfg = {"store": str(tmp_path / "missing.zarr")}
    with pytest.raises(ValueError, match="missing.zarr"):
        search(cfg, str(tmp_path / "py"))  # from Python, too
    assert not os.path.exists(tmp_path / "py")
    mine = tmp_path / "mine"  # a folder that existed before the call is kept, and what it held
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="missing.zarr"):
        search(cfg, str(mine))
    assert sorted(os.listdir(mine)) == ["config.json", "notes.txt", "versions.json"]
    empty = tmp_path / "empty"  # even an empty one: this call did not make it
    empty.mkdir()
    with pytest.raises(ValueError, match="missing.zarr"):
        search(cfg, str(empty))
    assert empty.is_dir()


def test_final_ranking_on_validation_or_on_every_task_network(tmp_path, synthetic_store):
    from eznas.evolve.search import search

    orders = {}
    for rank_on in ("validation", "task"):
        cfg = Config(generations=1, population=8, mu=4, lambda_=8, spaces_per_gen=2, task_nets=20, validation_nets=6,
                     max_depth=4, seed=2, store=synthetic_store, rank_on=rank_on)
        res = search(cfg, str(tmp_path / rank_on), progress=False)
        rows = json.load(open(os.path.join(res.run_dir, "hall_of_fame.json")))["programs"]
        rank = [r["task_min_tau"] + r["task_mean_tau"] if rank_on == "task" else r["validation_min_tau"] for r in rows]
        assert rank == sorted(rank, reverse=True)
        # the task fitness is the minimum over spaces on search and validation networks together
        task = Task(synthetic_store, seed=2, validation_nets=6, task_nets=20)
        both = {s: task.nets[s] + task.validation[s] for s in task.spaces}
        (fit,), (taus,) = evaluate([rows[0]["program"]], synthetic_store, both, task.accuracy)
        assert rows[0]["task_min_tau"] == pytest.approx(fit)
        assert rows[0]["task_mean_tau"] == pytest.approx(np.mean(list(taus.values())))
        orders[rank_on] = [r["program"] for r in rows]
    assert sorted(orders["task"]) == sorted(orders["validation"])  # the same programs, ranked two ways
    with pytest.raises(ValueError, match="rank_on"):
        Config(rank_on="search").check()


def test_programs_that_rank_every_space_alike_count_once():
    from eznas.evolve.finish import _distinct

    nan = float("nan")
    scores = [[1, 2, 3, 5, 4],
              [2, 4, 6, 50, 8],      # another scale, the same order in each space: the same proxy
              [1, 2, 3, 4, 5],       # another order in the second space
              [nan, 2, 3, 5, 4],     # a network it cannot score
              [3, 2, 1, 5, 4],       # reversed in the first space
              [1, 1, 3, 5, 4]]       # a tie where the first has none
    assert _distinct(scores, [(0, 3), (3, 5)]) == [0, 2, 3, 4, 5]
    assert _distinct(scores, [(0, 3)]) == [0, 3, 4, 5]  # judged on the first space alone


def test_a_rerun_reads_the_fitness_of_every_program_from_disk(tmp_path, synthetic_store, monkeypatch, cli):
    import eznas.evolve.algorithm as alg

    common = ["--store", synthetic_store, "--population", "8", "--mu", "4", "--lambda", "8", "--nets-per-space", "0",
              "--task-nets", "20", "--validation-nets", "6", "--max-depth", "5", "--seed", "5", "--generations", "2",
              "--quiet", "--runs-root", str(tmp_path)]
    assert cli("evolve", *common, "--name", "first")[0] == 0
    assert len(os.listdir(tmp_path / "fitness-cache")) == 1
    scored = []
    real = alg.evaluate
    monkeypatch.setattr(alg, "evaluate", lambda programs, *a, **k: scored.append(len(programs)) or real(programs, *a, **k))
    assert cli("evolve", *common, "--name", "again")[0] == 0
    # only the logged best program's validation fitness is computed again, one program per generation
    assert scored == [1, 1, 1]
    for f in ("checkpoint.json", "hall_of_fame.json"):
        a, b = (json.load(open(tmp_path / r / f)) for r in ("first", "again"))
        if f == "checkpoint.json":
            assert a["population"] == b["population"] and a["hof"] == b["hof"]
        else:
            assert [r["program"] for r in a["programs"]] == [r["program"] for r in b["programs"]]
