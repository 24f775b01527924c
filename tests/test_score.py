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
