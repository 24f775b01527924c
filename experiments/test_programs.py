"""Any programs on a run's held-out test sets (the same networks its own table used), beside
the baselines, with the top of the ranking.

    python experiments/test_programs.py --run runs/ovf-s0 --jobs 2 \
        --program "ham=layer_sum(square(hamming_dist(relu(T4G_D), T4G_N)))" \
        --program "ham_x_flops=times_flops(layer_sum(square(hamming_dist(relu(T4G_D), T4G_N))))" \
        [--tests nb201:cifar10:200 ...] [--out runs/ovf-s0/tests-extra]

The run's config gives the store, the task split and the test sets (``--tests`` overrides
them: same picking rule, so a smaller N is another sample); every network is outside the
task set.  Statistics are collected once per network for all programs (streamed, nothing
stored).  For each test set and column: Kendall tau, tau among the top 10 % of networks by
accuracy, and the mean accuracy of the top 1 % by the score.  Rows are kept in
``--out/<test>.json`` so a rerun with the same programs reads them.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import named_programs  # noqa: E402

from eznas import heldout  # noqa: E402
from eznas.evolve.config import Config
from eznas.evolve.finish import plan_tests
from eznas.evolve.rundir import read_json
from eznas.evolve.task import Task
from eznas.metrics import top_of_ranking


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="run directory (its config.json)")
    p.add_argument("--program", action="append", default=[], help="NAME=PROGRAM (repeatable)")
    p.add_argument("--tests", nargs="*", default=None, help="SPACE:DATASET:N (default: the run's)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", default=None, help="default: <run>/tests-extra")
    a = p.parse_args(argv)
    raw = read_json(os.path.join(a.run, "config.json"), "run config")
    cfg = Config.from_sources(overrides={**raw, **({"tests": a.tests} if a.tests is not None else {})})
    programs = named_programs(p, a.program)
    out = a.out or os.path.join(a.run, "tests-extra")
    os.makedirs(out, exist_ok=True)
    task = Task(cfg.store, cfg.spaces, cfg.task_nets, cfg.validation_nets, cfg.seed, cfg.filter_nets)
    cols = list(programs) + list(heldout.BASELINE_NAMES)
    lines = [f"Programs of `{a.run}`'s test sets (seed {cfg.seed}; every network outside its task set)", "",
             "| test set | n | measure | " + " | ".join(cols) + " |", "|---|---|---|" + "---|" * len(cols)]
    for spec, gt, idx, data_cfg, n_excl in plan_tests(cfg, task):
        path = os.path.join(out, spec.replace(":", "_") + ".json")
        rows = None
        if os.path.exists(path):
            kept = read_json(path, "test rows")
            if (kept.get("programs") == programs and kept.get("indices") == idx and kept.get("data") == data_cfg
                    and kept.get("columns") == cols and kept.get("to_scalar") == cfg.to_scalar):
                rows = kept["rows"]
        if rows is None:
            print(f"{spec}: {len(idx)} networks outside the task's {n_excl} (data {data_cfg.get('data')}, batch "
                  f"{data_cfg.get('batch_size')})", flush=True)
            rows = heldout.stream_test(gt, idx, programs, data_cfg, cfg.to_scalar, a.jobs)
            with open(path + ".tmp", "w") as f:
                json.dump({"programs": programs, "indices": idx, "data": data_cfg, "columns": cols,
                           "to_scalar": cfg.to_scalar, "rows": rows}, f)
            os.replace(path + ".tmp", path)
        acc = [r["accuracy"] for r in rows]
        taus = heldout.taus_of_rows(rows, cols)
        tops = {c: top_of_ranking([r[c] for r in rows], acc) for c in cols}
        label = f"{gt.space}/{gt.dataset}"
        lines.append(f"| {label} | {len(rows)} | tau | " + " | ".join(f"{taus[c]:.3f}" for c in cols) + " |")
        lines.append(f"| {label} | {len(rows)} | tau, top 10 % | " + " | ".join(f"{tops[c][0]:.3f}" for c in cols) + " |")
        lines.append(f"| {label} | {len(rows)} | top-1 % acc. | " + " | ".join(f"{tops[c][1]:.2f}" for c in cols) + " |")
        print("\n".join(lines[-3:]), flush=True)
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
