"""eznas analyze: the paper's Figure 6 finding for EZNAS-A in its own form, sweeps of a
shape-only program, per-layer contributions, and the command."""
import pytest
import torch

from eznas.analyze import contributions, expected_value, sweep
from eznas.baselines import EZNAS_A_PAPER
from eznas.spaces.bench import build_bench_nb201

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"


def test_eznas_a_paper_form_reproduces_the_papers_figure_6():
    r = {p: [m for _, m, _ in rows] for p, rows in sweep(EZNAS_A_PAPER, draws=64).items()}
    assert r["cin"] == sorted(r["cin"]) and r["cout"] == sorted(r["cout"])  # grows with channels
    k1, k3, k5, k7 = r["k"]
    assert min(k1, k7) > max(k3, k5) and k3 == min(r["k"])  # 1 and 7 above 3 and 5; 3 lowest
    assert max(r["hw"]) - min(r["hw"]) < 0.05 * max(r["hw"])  # T3G_N has no spatial axis


def test_shape_only_program_is_constant_over_draws_and_nan_where_it_cannot_apply():
    mean, std = expected_value("numel(T3)", 8, 16, 3, 8, draws=8)
    assert mean == 8 * 16 * 3 * 3 and std == 0.0
    m, s = expected_value("matmul(T1_D, T3)", 8, 16, 3, 8, draws=4)  # 8x8 @ 3x3: cannot apply
    assert m != m and s != s
    m, s = expected_value("matmul(T1_D, T3)", 8, 8, 3, 3, draws=4)  # 3x3 @ 3x3, 8 channels each: applies
    assert m == m and s > 0


def test_contributions_cover_every_layer_and_sum_to_the_score():
    torch.manual_seed(0)
    net = build_bench_nb201(ARCH)
    rows = contributions("layer_sum(frobenius_norm(T3))", net, torch.randn(2, 1, 8, 8))
    import eznas

    assert len(rows) == len(eznas.find_layers(net, torch.randn(2, 1, 8, 8))[0])
    assert sum(share for *_, share in rows) == pytest.approx(1.0)
    total = eznas.measures(net, torch.randn(2, 1, 8, 8), ["layer_sum(frobenius_norm(T3))"])["layer_sum(frobenius_norm(T3))"]
    assert sum(v for _, _, v, _ in rows) == pytest.approx(total, rel=1e-6)


def test_analyze_command(tmp_path, cli):
    code, out, err = cli("analyze", "eznas_a_paper", "--space", "bench_nb201", "--arch", ARCH, "--draws", "8",
                         "--out", tmp_path, "--quiet")
    assert code == 0, err
    md = (tmp_path / "analyze.md").read_text()
    assert "kernel size | 7" in md and "Per-layer contributions on bench_nb201" in md and (tmp_path / "sweep.png").exists()
    code, _, err = cli("analyze", "not_a_program(", "--out", tmp_path)
    assert code == 2 and "not_a_program(" in err


def test_analyze_names_the_program_and_writes_one_folder_per_program(tmp_path, cli, monkeypatch):
    from eznas.baselines import PROGRAM_BASELINES

    monkeypatch.chdir(tmp_path)
    common = ["--space", "bench_nb201", "--arch", ARCH, "--draws", "4", "--quiet"]
    code, out, err = cli("analyze", "eznas_a_paper", *common)
    assert code == 0, err
    assert out.startswith(f"program: eznas_a_paper = {PROGRAM_BASELINES['eznas_a_paper']}\n")
    text = "layer_sum(frobenius_norm(T4_N))"
    code, out, err = cli("analyze", text, *common)
    assert code == 0 and out.startswith(f"program: {text}\n"), err
    folders = sorted(p.name for p in (tmp_path / "runs" / "analyze").iterdir())
    assert folders[0] == "eznas_a_paper" and folders[1].startswith("program-") and len(folders) == 2
    md = (tmp_path / "runs" / "analyze" / folders[1] / "analyze.md").read_text()
    assert f"Program: `{text}`" in md
    # a folder holding another program's analysis is refused, not overwritten
    code, _, err = cli("analyze", "eznas_a", *common, "--out", tmp_path / "runs" / "analyze" / "eznas_a_paper")
    assert code == 2 and "holds the analysis of another program" in err
    assert "Program: `" + PROGRAM_BASELINES["eznas_a_paper"] in (tmp_path / "runs/analyze/eznas_a_paper/analyze.md").read_text()
    code, _, err = cli("analyze", "eznas_a_paper", *common, "--draws", "2")  # the same program: rewritten
    assert code == 0, err
