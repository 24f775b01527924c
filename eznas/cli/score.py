"""Score networks of a space with a proxy and measure it against ground truth.

    eznas score --proxy eznas_a --space nb201 --dataset cifar10 --n 200 --out runs/score.csv
    eznas score --proxy runs/<run>/programs.py:program_0 --space nb201 --exclude runs/<run> --out runs/p0.csv

--proxy is a baseline name, a program string (e.g. "layer_mean(l1_norm(T1G_D))": parsed,
never executed) or an exported programs file with an optional function name (default
program_0).  A .py file is imported, which runs its code: pass only files you trust.
Networks are streamed (build -> statistics -> score, nothing stored); rows are appended to
the CSV as they come, so a run that stops resumes; the settings are recorded beside it
(OUT with .settings.json for .csv) and a resume with other settings is refused; while one
score writes OUT (it holds OUT.lock), a second one on it is refused.  Writes the
CSV, a markdown report (.md) and a scatter plot (.png) beside it, of exactly the networks
asked for.  About 0.5-4 s per network on one CPU core (NB201, by proxy and batch size).
"""
import logging

from eznas.cli import add_space_arguments, output_path, positive_int, space_setup

HELP = "score networks of a space with a proxy, against ground truth"
log = logging.getLogger("eznas.score")


def add_arguments(p):
    from eznas.baselines import BASELINES, BATCH_SIZE
    p.add_argument("--proxy", required=True, help=f"baseline ({', '.join(BASELINES)}), program string, or FILE.py[:FUNCTION]")
    add_space_arguments(p)
    p.add_argument("--n", type=positive_int, default=1000, help="networks to sample (fewer if the space has fewer)")
    p.add_argument("--out", required=True, help="CSV of (arch, score, accuracy, flops, params)")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help=f"inputs per batch (default: 1, as EZNAS; {', '.join(f'{k} {v}' for k, v in BATCH_SIZE.items())}, "
                        "as their papers use)")
    p.add_argument("--jobs", type=positive_int, default=1, help="processes (CPU), each scoring chunks of networks")
    p.add_argument("--exclude", action="append", metavar="STORE_OR_RUN",
                   help="leave out the networks of a statistics store, or of the store a run directory searched on "
                        "(repeatable), so the figures are on networks the search never saw")


def run(a):
    from eznas.baselines import BATCH_SIZE, check_batch
    from eznas.collection import sample_indices
    from eznas.score import hold_output, make_scorer, report, run_of, score_space, task_archs

    make_scorer(a.proxy)
    batch = a.batch_size if a.batch_size is not None else BATCH_SIZE.get(a.proxy, 1)
    check_batch(a.proxy, batch, fix="use --batch-size >= {need}")
    gt, device, data = space_setup(a, batch)
    excluded = set()
    for e in a.exclude or []:
        try:
            excluded |= task_archs(e, a.space)
        except (ValueError, OSError) as err:
            raise ValueError(f"--exclude {e}: {err}") from None
    pool = [i for i, arch in enumerate(gt.archs) if str(arch) not in excluded]
    n = min(a.n, len(pool))
    idx = sorted(pool[j] for j in sample_indices(len(pool), n, a.seed))
    run_dir = run_of(a.proxy)
    if run_dir and not a.exclude:
        try:
            seen = task_archs(run_dir, a.space)
        except (ValueError, OSError) as e:  # the run's store moved or is elsewhere: no check, say so
            log.warning(f"could not read the task networks of {run_dir} ({e}); overlap not checked")
            seen = set()
        overlap = sum(str(gt.archs[i]) in seen for i in idx)
        if overlap:
            log.warning(f"{overlap} of the {n} networks scored were in the task of {run_dir} (its search or "
                        f"validation networks); add --exclude {run_dir} to score only networks it never saw")
    output_path(a.out, "--out")  # its folder made before any scoring
    lock = hold_output(a.out)  # one writer of the CSV, its settings and its report: a second is refused
    try:
        about = (f"{n} networks of {a.space}/{gt.dataset} sampled with seed {a.seed} ({len(excluded)} architectures "
                 f"excluded); data {data}, batch size {batch}, device {device}")
        log.info("scoring " + about)
        score_space(a.proxy, gt, idx, a.out, data, batch, a.seed, device, progress=not a.quiet, jobs=a.jobs)
        m, md = report(a.out, f"{a.proxy} on {a.space}/{gt.dataset}", archs=[gt.archs[i] for i in idx], about=about,
                       name=a.proxy)
    finally:
        lock.release()
    print(f"kendall {m['kendall']:.4f}  spearman {m['spearman']:.4f}  networks {n}  report: {md}")
    print(m["verdict"])
