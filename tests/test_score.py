import csv
import os

import pytest

from eznas.score import main, make_scorer


def test_score_cli_streams_resumes_and_reports(tmp_path, capsys):
    out = str(tmp_path / "s.csv")
    main(["--proxy", "l1_norm(T1G_D)", "--space", "bench_nb201", "--n", "3", "--out", out])
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 3 and list(rows[0]) == ["arch", "score", "accuracy", "flops", "params"]
    assert os.path.exists(out[:-4] + ".md") and os.path.exists(out[:-4] + ".png")
    assert "kendall" in capsys.readouterr().out
    main(["--proxy", "l1_norm(T1G_D)", "--space", "bench_nb201", "--n", "4", "--out", out])
    rows2 = list(csv.DictReader(open(out)))
    assert len(rows2) == 4 and rows2[:3] == rows  # resumed: the first three untouched


def test_bad_proxy_is_a_clear_error():
    with pytest.raises(ValueError, match="neither a baseline"):
        make_scorer("not_a_proxy(")
    with pytest.raises(ValueError, match="not found"):
        make_scorer("missing_file.py")


def test_score_with_two_processes_matches_one(tmp_path, monkeypatch):
    import eznas.score

    monkeypatch.setattr(eznas.score, "CHUNK", 3)  # 8 networks: 3 chunks over 2 processes
    one, two = str(tmp_path / "one.csv"), str(tmp_path / "two.csv")
    main(["--proxy", "eznas_a", "--space", "bench_nb201", "--n", "8", "--out", one])
    main(["--proxy", "eznas_a", "--space", "bench_nb201", "--n", "8", "--out", two, "--jobs", "2"])
    a = {r["arch"]: r for r in csv.DictReader(open(one))}
    b = {r["arch"]: r for r in csv.DictReader(open(two))}
    assert a.keys() == b.keys() and len(a) == 8
    for k in a:
        assert float(a[k]["score"]) == pytest.approx(float(b[k]["score"]), rel=1e-6)
        assert a[k]["params"] == b[k]["params"]
