import csv
import os

import pytest

from eznas.score import make_scorer


def score(cli, *args):
    code, out, err = cli("score", "--quiet", *args)
    assert code == 0, err
    return out


def test_score_cli_streams_resumes_and_reports(tmp_path, cli):
    out = str(tmp_path / "s.csv")
    assert "kendall" in score(cli, "--proxy", "l1_norm(T1G_D)", "--space", "bench_nb201", "--n", "3", "--out", out)
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 3 and list(rows[0]) == ["arch", "score", "accuracy", "flops", "params", "seconds"] and float(rows[0]["seconds"]) > 0
    assert os.path.exists(out[:-4] + ".md") and os.path.exists(out[:-4] + ".png")
    score(cli, "--proxy", "l1_norm(T1G_D)", "--space", "bench_nb201", "--n", "4", "--out", out)
    rows2 = list(csv.DictReader(open(out)))
    assert len(rows2) == 4 and rows2[:3] == rows  # resumed: the first three untouched


def test_score_resume_with_other_settings_is_refused_and_reports_cover_the_request(tmp_path, cli):
    out = str(tmp_path / "s.csv")
    score(cli, "--proxy", "params", "--space", "bench_sss", "--n", "12", "--out", out)
    before = open(out).read()
    for other in (["--proxy", "flops"], ["--seed", "1"], ["--batch-size", "2"]):
        args = {"--proxy": "params", "--seed": "0", "--batch-size": "1", **dict([other])}
        code, _, err = cli("score", "--quiet", "--space", "bench_sss", "--n", "12", "--out", out,
                           *[x for kv in args.items() for x in kv])
        assert code == 2 and "other settings" in err and other[0].lstrip("-").replace("-", "_") in err
        assert open(out).read() == before  # nothing appended
    # a smaller request reports exactly its own networks (a subset of the CSV's rows)
    score(cli, "--proxy", "params", "--space", "bench_sss", "--n", "5", "--out", out)
    md = open(out[:-4] + ".md").read()
    assert "networks: 5 " in md and "5 networks of bench_sss/digits sampled with seed 0" in md
    assert "| precision@top10nets | n/a |" in md  # 5 networks: a top-10 metric says nothing
    # the verdict: #params judged against itself cannot beat it
    assert md.rstrip().splitlines()[-1].startswith("verdict: params (tau ") and "does not beat params" in md


def test_bad_proxy_is_a_clear_error():
    with pytest.raises(ValueError, match="neither a baseline"):
        make_scorer("not_a_proxy(")
    with pytest.raises(ValueError, match="not found"):
        make_scorer("missing_file.py")


def test_score_with_two_processes_matches_one(tmp_path, monkeypatch, cli):
    import eznas.score

    monkeypatch.setattr(eznas.score, "CHUNK", 3)  # 8 networks: 3 chunks over 2 processes
    one, two = str(tmp_path / "one.csv"), str(tmp_path / "two.csv")
    score(cli, "--proxy", "eznas_a", "--space", "bench_nb201", "--n", "8", "--out", one)
    score(cli, "--proxy", "eznas_a", "--space", "bench_nb201", "--n", "8", "--out", two, "--jobs", "2")
    a = {r["arch"]: r for r in csv.DictReader(open(one))}
    b = {r["arch"]: r for r in csv.DictReader(open(two))}
    assert a.keys() == b.keys() and len(a) == 8
    for k in a:
        assert float(a[k]["score"]) == pytest.approx(float(b[k]["score"]), rel=1e-6)
        assert a[k]["params"] == b[k]["params"]


def test_exclude_leaves_out_a_stores_networks(tmp_path, cli):
    from eznas.collection import collect_space, collection_config
    from eznas.spaces.sources import load_ground_truth
    from stats_cache.store import StatsStore

    gt = load_ground_truth("bench_sss")
    store_url = str(tmp_path / "s.zarr")
    with StatsStore(store_url, "a", config=collection_config("digits", 1, 0, "float32", "rcb", "sum")) as store:
        collect_space(gt, store, list(range(12)), 0, "cpu", False)  # the first 12 architectures
    out = str(tmp_path / "p.csv")
    code, _, err = cli("score", "--proxy", "params", "--space", "bench_sss", "--n", "30", "--seed", "1", "--out", out,
                       "--exclude", store_url)
    scored = {r["arch"] for r in csv.DictReader(open(out))}
    assert code == 0 and len(scored) == 30 and not scored & {str(a) for a in gt.archs[:12]}
    assert "12 architectures excluded" in err
    code, _, err = cli("score", "--proxy", "params", "--space", "bench_sss", "--n", "3", "--out", out,
                       "--exclude", str(tmp_path / "none"))
    assert code == 2 and "--exclude" in err


def test_out_folders_are_made_before_any_work_or_refused_before_it(tmp_path, cli, monkeypatch):
    import eznas.score

    out = tmp_path / "runs" / "score" / "p0.csv"  # neither runs/ nor runs/score/ exists
    real = eznas.score.score_space

    def work_starts(proxy, gt, idx, path, *a, **kw):
        assert os.path.isdir(os.path.dirname(path))  # made before the work began
        return real(proxy, gt, idx, path, *a, **kw)

    monkeypatch.setattr(eznas.score, "score_space", work_starts)
    score(cli, "--proxy", "params", "--space", "bench_sss", "--n", "2", "--out", out)
    assert out.exists() and (tmp_path / "runs" / "score" / "p0.settings.json").exists()

    def no_work(*a, **kw):
        raise AssertionError("scoring started")

    monkeypatch.setattr(eznas.score, "score_space", no_work)
    (tmp_path / "afile").write_text("")  # a file where the folder should be: refused, nothing scored
    code, _, err = cli("score", "--proxy", "params", "--space", "bench_sss", "--n", "2", "--out",
                       tmp_path / "afile" / "p.csv")
    assert code == 2 and "--out" in err and "cannot make its folder" in err
    code, _, err = cli("score", "--proxy", "params", "--space", "bench_sss", "--n", "2", "--out", tmp_path)
    assert code == 2 and "is a folder" in err


def test_batch_size_messages_speak_the_command_lines_language(tmp_path, cli):
    code, _, err = cli("score", "--proxy", "naswot", "--space", "bench_sss", "--n", "2", "--batch-size", "1",
                       "--out", tmp_path / "n.csv")
    assert code == 2 and "use --batch-size >= 2" in err and not (tmp_path / "n.csv").exists()
