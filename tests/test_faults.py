"""Fault injection and hostile input: processes killed at random points resume to the
result of an uninterrupted run; workers end with their parent; damaged stores are
repaired by --verify; every bad argument or file is an error that names it."""
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from stats_cache.store import DamagedError, StatsStore

EZNAS = [sys.executable, "-m", "eznas"]


def _wait_for(cond, timeout=120):
    t0 = time.time()
    while not cond():
        if time.time() - t0 > timeout:
            raise TimeoutError
        time.sleep(0.05)


def _dead(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")  # a zombie has ended
    except FileNotFoundError:
        return True


def _kill_at_random_points(cmd, started, rng, kills):
    """Run ``cmd`` ``kills`` times, each killed (SIGKILL) a random moment after
    ``started()`` turns true, then once to the end."""
    for _ in range(kills):
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for(lambda: started() or p.poll() is not None)
            time.sleep(rng.uniform(0, 0.6))
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait()
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def _networks(url, space):
    s = StatsStore(url, "r")
    out = {}
    for k in s.networks(space):
        net = s.read_network(space, k)
        out[k] = (net.attrs, [(idx, {n: t.tolist() for n, t in env.items()}) for idx, env in net.groups])
    return out


def test_collect_killed_at_random_points_resumes_to_the_same_store(tmp_path):
    args = ["collect", "--space", "bench_sss", "--n", "10", "--quiet", "--store"]
    whole, killed = str(tmp_path / "whole.zarr"), str(tmp_path / "killed.zarr")
    assert subprocess.run(EZNAS + args + [whole]).returncode == 0
    space = os.path.join(killed, "bench_sss-digits")
    rng = random.Random(0)
    _kill_at_random_points(EZNAS + args + [killed], lambda: os.path.isdir(space) and len(os.listdir(space)) > 1 + rng.randint(0, 6),
                           rng, kills=3)
    assert not [f for f in os.listdir(tmp_path) if ".tmp-" in f]
    a, b = _networks(whole, "bench_sss-digits"), _networks(killed, "bench_sss-digits")
    assert len(a) == 10 and a == b


def test_evolve_killed_at_random_points_resumes_to_the_same_programs(tmp_path, synthetic_store):
    common = ["--store", synthetic_store, "--population", "8", "--mu", "4", "--lambda", "8", "--nets-per-space", "6",
              "--task-nets", "20", "--validation-nets", "6", "--max-depth", "5", "--seed", "3", "--generations", "5",
              "--quiet", "--runs-root", str(tmp_path)]
    assert subprocess.run(EZNAS + ["evolve", *common, "--name", "whole"], capture_output=True).returncode == 0
    run = tmp_path / "killed"
    p = subprocess.Popen(EZNAS + ["evolve", *common, "--name", "killed"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(lambda: (run / "checkpoint.json").exists() or p.poll() is not None)
    p.send_signal(signal.SIGKILL)
    p.wait()
    rng = random.Random(1)
    gen = lambda: json.load(open(run / "checkpoint.json"))["gen"] if (run / "checkpoint.json").exists() else -1  # noqa: E731
    _kill_at_random_points(EZNAS + ["evolve", "--resume", str(run), "--quiet"], lambda: gen() >= rng.randint(1, 4), rng, kills=2)
    w, k = tmp_path / "whole", run
    assert json.load(open(w / "checkpoint.json"))["population"] == json.load(open(k / "checkpoint.json"))["population"]
    assert json.load(open(w / "hall_of_fame.json"))["programs"] == json.load(open(k / "hall_of_fame.json"))["programs"]
    assert (w / "programs.py").read_text() == (k / "programs.py").read_text()
    assert not [f for f in os.listdir(k) if ".tmp-" in f]


def test_workers_end_when_their_parent_is_killed(tmp_path):
    script = f"""
import os, time
from joblib import Parallel, delayed
def work(i):
    from eznas.parallel import exit_with_parent
    exit_with_parent(0.1)
    open(os.path.join({str(tmp_path)!r}, f"w{{os.getpid()}}"), "w").close()
    time.sleep(120)
Parallel(n_jobs=2)(delayed(work)(i) for i in range(2))
"""
    p = subprocess.Popen([sys.executable, "-c", script])
    _wait_for(lambda: len(os.listdir(tmp_path)) == 2)
    pids = [int(f[1:]) for f in os.listdir(tmp_path)]
    p.send_signal(signal.SIGKILL)
    p.wait()
    _wait_for(lambda: all(_dead(pid) for pid in pids), timeout=10)


def test_collect_verify_recollects_damaged_networks(tmp_path, cli):
    url = str(tmp_path / "s.zarr")
    args = ["collect", "--space", "bench_sss", "--n", "4", "--quiet", "--store", url]
    assert cli(*args)[0] == 0
    before = _networks(url, "bench_sss-digits")
    k0, k1 = sorted(before)[:2]
    os.remove(os.path.join(url, "bench_sss-digits", k0, "out", "c", "0", "0"))  # a chunk gone
    os.remove(os.path.join(url, "bench_sss-digits", k1, "zarr.json"))  # a network's metadata gone
    code, _, err = cli("evolve", "--store", url, "--quiet", "--runs-root", str(tmp_path), "--task-nets", "11",
                       "--validation-nets", "3")
    assert code == 1 and k1 in err and "--verify" in err
    assert cli(*args)[0] == 0  # a rerun collects the network that lost its metadata (it is not complete) ...
    with pytest.raises(DamagedError, match=f"{k0}/out"):  # ... but does not read the others
        _networks(url, "bench_sss-digits")
    code, _, err = cli(*args, "--verify")  # with --verify the damage is found and repaired
    assert code == 0 and f"bench_sss-digits/{k0}: checksum mismatch" in err
    assert _networks(url, "bench_sss-digits") == before


@pytest.mark.parametrize("args,names", [
    (["collect", "--space", "bench_sss", "--store", "S", "--n", "-3"], "--n"),
    (["collect", "--space", "bench_sss", "--store", "S", "--batch-size", "0"], "--batch-size"),
    (["collect", "--space", "bench_sss", "--store", "S", "--data", "bogus"], "bogus"),
    (["collect", "--space", "bench_sss", "--store", "S", "--data", "cifar:/nonexistent"], "cifar:/nonexistent"),
    (["collect", "--space", "bench_sss", "--store", "S", "--device", "gpu7"], "--device"),
    (["score", "--space", "bench_sss", "--out", "O.csv", "--proxy", "nope("], "nope("),
    (["score", "--space", "bench_sss", "--out", "O.csv", "--proxy", "params", "--jobs", "0"], "--jobs"),
    (["evolve", "--store", "S", "--jobs", "0"], "jobs"),
    (["evolve", "--store", "S", "--generations", "2.7"], "--generations"),
    (["evolve", "--store", "S", "--backend", "bogus"], "backend"),
])
def test_bad_arguments_are_errors_naming_them(tmp_path, cli, args, names):
    args = [str(tmp_path / a) if a in ("S", "O.csv") else a for a in args]
    try:
        code, _, err = cli(*args, "--runs-root", str(tmp_path)) if args[0] == "evolve" else cli(*args)
    except SystemExit as e:  # argparse's own usage errors
        code, err = e.code, ""
    assert code == 2
    if err:
        assert names in err
    assert not os.path.exists(tmp_path / "S") and not os.path.exists(tmp_path / "O.csv")


def test_bad_files_are_errors_naming_them(tmp_path, cli, synthetic_store):
    gt = tmp_path / "gt.csv"
    gt.write_text("arch,accuracy\n|nor_conv_3x3~0|+|bogus~0|none~1|+|none~0|none~1|none~2|,90\n")
    code, _, err = cli("collect", "--space", "nb201", "--ground-truth", gt, "--store", tmp_path / "s.zarr")
    assert code == 2 and "gt.csv: data row 1" in err and not (tmp_path / "s.zarr").exists()
    bad = tmp_path / "bad.py"
    bad.write_text("raise RuntimeError('boom')\n")
    code, _, err = cli("score", "--space", "bench_sss", "--proxy", bad, "--out", tmp_path / "o.csv")
    assert code == 2 and "bad.py: importing it raised RuntimeError: boom" in err
    common = ["--store", synthetic_store, "--population", "6", "--mu", "3", "--lambda", "6", "--task-nets", "20",
              "--validation-nets", "6", "--max-depth", "4", "--generations", "1", "--quiet", "--runs-root", tmp_path]
    assert cli("evolve", *common, "--name", "r")[0] == 0
    run = tmp_path / "r"
    config = (run / "config.json").read_text()
    code, _, err = cli("evolve", "--resume", run, "--jobs", "0")
    assert code == 2 and "jobs" in err and (run / "config.json").read_text() == config  # nothing invalid written
    ck = (run / "checkpoint.json").read_text()
    (run / "checkpoint.json").write_text(ck[: len(ck) // 2])
    code, _, err = cli("evolve", "--resume", run, "--generations", "2")
    assert code == 2 and "checkpoint.json: corrupt checkpoint" in err
    (run / "checkpoint.json").write_text(json.dumps({"gen": 1}))
    code, _, err = cli("evolve", "--resume", run, "--generations", "2")
    assert code == 2 and "checkpoint.json: corrupt checkpoint" in err
    (run / "config.json").write_text(config[:20])
    code, _, err = cli("evolve", "--resume", run)
    assert code == 2 and "config.json: corrupt run config" in err
    code, _, err = cli("evolve", "--resume", tmp_path / "nothing")
    assert code == 2 and "not a run directory" in err
