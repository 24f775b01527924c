"""Hostile input (issue 27): text from a store or a file never becomes code in an exported
``programs.py``; a ground-truth file that gives one network twice, or an accuracy that is
negative, NaN or infinite, is refused naming the file, the rows and their lines; programs
deeper than MAX_PROGRAM_DEPTH and search depths out of range are refused naming the file
and the field; crafted CIFAR batches, PNGs, halls of fame, checkpoints, configs and CSV files
are refused naming the file and the field, never a traceback; ``eznas.measures`` refuses
inputs with no example and scores the model whatever the caller froze or hooked; a resume or
``score --exclude RUN`` that finds another store at the run's store path is refused naming
both; a second search in a run directory, a second writer of a score or nas output and a
second store writer through a symlink are refused at once naming the holder, and a killed
holder's lock blocks nobody.  Bad input: exit code 2 and a message naming it.  A store whose
metadata was edited (a network's accuracy, shapes or checksums, an array's data type or
codecs) or cut short (an array's, a space's or the store's zarr.json) is damage: exit code
1 naming the file and what does not match, and ``collect --verify`` recollects the network
(a space's metadata cannot be: the message says what to do)."""
import ast
import hashlib
import json
import math
import os
import pickle
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import eznas

from eznas.cli import run as eznas_run
from eznas.export import check_source, export_file, export_source
from eznas.program import MAX_PROGRAM_DEPTH, ProgramError, parse
from stats_cache.schema import KINDS

from tests.conftest import make_store

MARKER = "PWNED"
# each one tries to end the docstring, the line or the literal it lands in and run code
PAYLOADS = [
    'x"""\nimport os; os.system("touch PWNED")\ndef _f():\n    """',  # the issue's: valid code in exports as written before
    'x"""\nimport os; os.system("touch PWNED")\n"""',
    "x'''\nimport os; os.system('touch PWNED')\n'''",
    'x\\',  # a trailing backslash would escape the closing quotes
    'x\\"""\nopen("PWNED", "w")\n#',
    "x\u2028open('PWNED', 'w')\u2028",
    "x\x85open('PWNED', 'w')\x85",
    "x\ropen('PWNED', 'w')\r",
    "#\nopen('PWNED', 'w')  # ",
    '\\N{LINE FEED}""";open("PWNED", "w");"""',
    "\x00\x0c\x1b\x7f\t\ud800\u00e9\u4e2d",  # NUL, form feed, escape, DEL, tab, a lone surrogate, non-ASCII
]
PROGRAMS = ["layer_sum(frobenius_norm(sigmoid(logdet(sign(T3G_N)))))", "times_flops(l1_norm(add(T3, T1_D)))",
            "layer_mean(abs(T3))"]
# what a subprocess prints: each program of each module on fixed random statistics of two layers
SCORE = """
import importlib.util, json, sys, torch
out = []
for path in sys.argv[1:]:
    spec = importlib.util.spec_from_file_location("m" + str(len(out)), path)
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    shapes = {"T1": (1, 2, 3, 3), "T2": (1, 3, 3, 3), "T3": (3, 2, 3, 3), "T4": (1, 3, 3, 3)}
    g = torch.Generator().manual_seed(0)
    layers = [{k: torch.randn(shapes[k[:2]], generator=g) for k in %r} for _ in range(2)]
    out.append([[f(layer) for layer in layers] for f in m.PROGRAMS])
print(json.dumps(out))
""" % (list(KINDS),)


def _hostile_rows(programs):
    return [{"program": p, "sign": -1.0 if k == 1 else 1.0, "min_tau": PAYLOADS[k % len(PAYLOADS)],
             "search_min_tau": PAYLOADS[-1 - k % len(PAYLOADS)], "taus": {name: 0.25 for name in PAYLOADS}}
            for k, p in enumerate(programs)]


def _import_and_score(tmp_path, *paths):
    """Import the modules in a fresh interpreter whose working directory is ``tmp_path``;
    no marker file may appear anywhere it could be written."""
    r = subprocess.run([sys.executable, "-c", SCORE, *map(str, paths)], capture_output=True, text=True, cwd=tmp_path,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    for where in (tmp_path, os.getcwd(), os.path.dirname(str(paths[0]))):
        assert not os.path.exists(os.path.join(where, MARKER)), where
    return json.loads(r.stdout)


def _top_level(path):
    tree = ast.parse(open(path, encoding="utf-8").read())
    return [type(n).__name__ + ":" + (getattr(n, "name", "") or ast.unparse(n)[:30]) for n in tree.body]


# ---- 1. code through the export --------------------------------------------------------

def test_hostile_text_in_every_interpolated_field_is_never_code(tmp_path):
    # odd whitespace the program parser accepts between tokens (line separators, \x85, \r)
    spaced = ["layer_sum(\u2028frobenius_norm(\x85sigmoid(\rlogdet(\x0csign(\tT3G_N)))))",
              " times_flops( l1_norm( add(T3,\nT1_D)))\r\n", "layer_mean(\u3000abs(T3))"]
    hostile = export_file(str(tmp_path / "hostile.py"), _hostile_rows(spaced), "mean")
    plain = export_file(str(tmp_path / "plain.py"), [{"program": p, "sign": -1.0 if k == 1 else 1.0}
                                                       for k, p in enumerate(PROGRAMS)], "mean")
    source = open(hostile, encoding="utf-8").read()
    assert source.isascii() and "\r" not in source and "\x0c" not in source  # no character but ASCII lines
    assert _top_level(hostile) == _top_level(plain)  # the same statements, whatever the names
    scores = _import_and_score(tmp_path, hostile, plain)
    assert scores[0] == scores[1] and all(math.isfinite(v) for fn in scores[0] for v in fn)
    # the text is kept, escaped: each program's docstring names every space as written
    spec_doc = ast.get_docstring(ast.parse(source).body[-5], clean=False)
    for name in PAYLOADS:
        assert name.encode("unicode_escape").decode("ascii") in spec_doc
    assert "Program: layer_sum(frobenius_norm(sigmoid(logdet(sign(T3G_N)))))" in source  # the parsed program


@pytest.mark.parametrize("row,how,names", [
    ({"program": "abs(T3)", "sign": "1.0 * __import__('os').system('touch PWNED') or 1"}, "mean", "'sign'"),
    ({"program": "abs(T3)", "sign": float("nan")}, "mean", "'sign'"),
    ({"program": "abs(T3)", "sign": float("inf")}, "mean", "'sign'"),
    ({"program": "abs(T3)"}, "mean'\nimport os\n'", "to_scalar"),
    ({"program": "abs(T3)\nimport os"}, "mean", "trailing tokens"),
    ({"program": "abs(__import__)"}, "mean", "unknown op or terminal '__import__'"),
    ({"program": 'abs(T3)"""'}, "mean", "unexpected character"),
    ({"program": "abs(T3)", "taus": ["a"]}, "mean", "'taus'"),
])
def test_values_that_would_reach_code_are_refused(tmp_path, row, how, names):
    with pytest.raises(ValueError, match=names.replace("(", r"\(").replace(")", r"\)")):
        export_file(str(tmp_path / "p.py"), [row], how)
    assert not os.path.exists(tmp_path / "p.py") and not os.path.exists(MARKER)


def test_the_check_refuses_a_module_with_any_statement_it_did_not_write():
    rows = [{"program": "abs(T3)", "min_tau": 0.5}]
    source = export_source(rows)
    docs = [ast.get_docstring(ast.parse(source).body[-5], clean=False)]
    check_source(source, docs)
    for bad in (source + "\nimport os\n",
                source.replace("    L = {k:", "    import os\n    L = {k:", 1),
                source.replace("OPS['abs'](L[\"T3\"])", "__import__('os').system('x')", 1),
                source.replace("program_0.times = ''", "program_0.times = open('x')", 1),
                source.replace("TO_SCALAR = 'mean'", "TO_SCALAR = 'mean'; import os", 1),
                source.replace("Sign: +1", 'Sign: +1"""\n    import os\n    """', 1),
                source[:-10]):
        with pytest.raises(ValueError, match="exported module refused"):
            check_source(bad, docs)


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """A finished run on a store whose two spaces are named to break out of the export."""
    root = tmp_path_factory.mktemp("hostile")
    store = str(root / "s.zarr")
    make_store(store, spaces=(PAYLOADS[0], "b" + "".join(PAYLOADS[5:9])))  # no backslash: zarr reads it as "/"
    code = eznas_run(["evolve", "--store", store, "--population", "6", "--mu", "3", "--lambda", "6", "--task-nets", "20",
                      "--validation-nets", "6", "--max-depth", "4", "--generations", "1", "--quiet",
                      "--runs-root", str(root), "--name", "r"])
    assert code == 0
    return root / "r", store


def test_a_run_on_spaces_named_to_break_out_exports_a_module_that_runs_nothing(tmp_path, hostile_run):
    run, _ = hostile_run
    assert not os.path.exists(run / MARKER) and not os.path.exists(MARKER)
    rows = json.load(open(run / "hall_of_fame.json"))["programs"]
    assert PAYLOADS[0] in rows[0]["taus"]  # the names did reach the export
    exported = run / "programs.py"
    plain = export_file(str(tmp_path / "plain.py"), [{"program": r["program"], "sign": r["sign"]} for r in rows[:5]])
    assert _top_level(exported) == _top_level(plain)
    scores = _import_and_score(tmp_path, exported, plain)
    assert scores[0] == scores[1]


# ---- 2. ground-truth files ---------------------------------------------------------------

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|none~2|"
OTHER = "|none~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|none~2|"


@pytest.mark.parametrize("space,body,names", [
    ("nb201", f"arch,accuracy\n{OTHER},50\n{ARCH},99.9\n{ARCH},10.0\n{ARCH},10.0\n{ARCH},10.0\n{ARCH},10.0\n",
     ["gt.csv: data rows 2 and 3 are the same architecture", ARCH, "(lines 3 and 4 of the file)"]),
    ("nb201", f"arch,accuracy\n{ARCH},99.9\n\n{'|' + ARCH},10.0\n",  # the same cell, spelled another way
     ["gt.csv: data row 2: architecture", "not in canonical form", "(line 4 of the file)"]),
    ("nats_sss", "arch,accuracy\n8:16:24:32:40,70\n08:16:24:32:40,10\n",
     ["gt.csv: data row 2: architecture '08:16:24:32:40'", "write it as '8:16:24:32:40'", "(line 3 of the file)"]),
    ("nb201", f"arch,accuracy\n{OTHER},50\n{ARCH},-5\n",
     ["gt.csv: data row 2: accuracy '-5'", "negative", "(line 3 of the file)"]),
    ("nb201", f"arch,accuracy\n{OTHER},50\n{ARCH},nan\n", ["gt.csv: column 'accuracy'", "non-finite", "(line 3 of the file)"]),
    ("nb201", f"arch,accuracy\n{OTHER},50\n{ARCH},-inf\n", ["gt.csv: column 'accuracy'", "non-finite", "(line 3 of the file)"]),
    ("bench_sss", "arch,accuracy\n8:8:8:8:8,50\n16:8:8:8:8,1e400\n",
     ["gt.csv: column 'accuracy'", "non-finite", "(line 3 of the file)"]),
])
def test_a_ground_truth_file_with_duplicates_or_bad_accuracies_is_refused(tmp_path, cli, space, body, names):
    gt = tmp_path / "gt.csv"
    gt.write_text(body)
    code, _, err = cli("collect", "--space", space, "--ground-truth", gt, "--store", tmp_path / "s.zarr")
    assert code == 2 and not (tmp_path / "s.zarr").exists(), err
    for n in names:
        assert n in err, (n, err)


def test_every_format_is_checked_on_load(tmp_path):
    """NDS JSON records have no accuracy column: an error over 100 % or a NaN is refused after
    reading, as is a network given twice, naming the record."""
    from eznas.spaces.benchmarks import GroundTruthError
    from eznas.spaces.sources import load_ground_truth

    net = {"genotype": {"normal": [["sep_conv_3x3", 0]], "normal_concat": [1], "reduce": [["max_pool_3x3", 0]],
                        "reduce_concat": [1]}, "width": 16, "depth": 3}
    other = {**net, "width": 32}
    for records, names in (([{"net": other, "test_ep_top1": [50.0]}, {"net": net, "test_ep_top1": [150.0]}],
                            ["data row 2", "has accuracy -50.0"]),
                           ([{"net": other, "test_ep_top1": [50.0]}, {"net": net, "test_ep_top1": ["nan"]}],
                            ["data row 2", "has accuracy nan"]),
                           ([{"net": net, "test_ep_top1": [50.0]}, {"net": net, "test_ep_top1": [10.0]}],
                            ["data rows 1 and 2 are the same architecture"]),
                           ([{"net": net, "test_ep_top1": "x"}], ["record 0: 'test_ep_top1'"])):
        path = tmp_path / "nds.json"
        path.write_text(json.dumps(records))
        with pytest.raises(GroundTruthError) as e:
            load_ground_truth("nds_darts", "cifar10", str(path))
        assert "nds.json" in str(e.value) and all(n in str(e.value) for n in names), str(e.value)


# ---- 3. program depth ----------------------------------------------------------------------

def _deep(n, inner="T3"):
    return "sigmoid(" * (n - 1) + inner + ")" * (n - 1)


def test_the_parser_refuses_programs_deeper_than_the_limit_fast():
    assert len(parse(_deep(MAX_PROGRAM_DEPTH))) == MAX_PROGRAM_DEPTH  # the limit itself parses
    assert len(parse(f"times_flops(layer_sum({_deep(MAX_PROGRAM_DEPTH - 2)}))")) == MAX_PROGRAM_DEPTH
    t0 = time.perf_counter()
    for text in (_deep(MAX_PROGRAM_DEPTH + 1), _deep(100_000), f"layer_mean({_deep(MAX_PROGRAM_DEPTH)})"):
        with pytest.raises(ProgramError, match=f"deeper than {MAX_PROGRAM_DEPTH} nodes") as e:
            parse(text)
        assert len(str(e.value)) < 400  # the program is quoted cut short
    assert time.perf_counter() - t0 < 5


def test_a_program_at_the_limit_exports_a_module_that_imports(tmp_path):
    path = export_file(str(tmp_path / "deep.py"), [{"program": _deep(MAX_PROGRAM_DEPTH - 1, "abs(T3)")}])
    (scores,) = _import_and_score(tmp_path, path)
    assert len(scores) == 1 and all(math.isfinite(v) for v in scores[0])


def _fake_run(tmp_path, program):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"to_scalar": "mean"}))
    (run / "hall_of_fame.json").write_text(json.dumps({"programs": [{"program": program, "sign": 1.0}]}))
    return run


def test_a_too_deep_program_in_a_hall_of_fame_is_refused_naming_the_file(tmp_path, cli):
    run = _fake_run(tmp_path, f"layer_mean({_deep(100_000, 'abs(T3)')})")
    t0 = time.perf_counter()
    code, _, err = cli("analyze", run, "--out", tmp_path / "a", "--draws", "2")
    assert code == 2 and "hall_of_fame.json: program 0 unreadable" in err and "deeper than" in err
    code, _, err = cli("score", "--space", "bench_sss", "--proxy", run, "--out", tmp_path / "o.csv", "--n", "3")
    assert code == 2 and "hall_of_fame.json: program 0 unreadable" in err and not (tmp_path / "o.csv").exists()
    assert time.perf_counter() - t0 < 30 and not (tmp_path / "a").exists()


@pytest.mark.parametrize("line,field", [("max_depth = 1000", "max_depth"), ("min_depth = 0", "min_depth"),
                                        ("max_depth = 21", "max_depth"), ("min_depth = 25\nmax_depth = 20", "min_depth")])
def test_search_depths_out_of_range_are_refused_naming_the_file_and_field(tmp_path, cli, synthetic_store, line, field):
    from eznas.evolve.config import MAX_SEARCH_DEPTH

    toml = tmp_path / "c.toml"
    toml.write_text(f'store = "{synthetic_store}"\n{line}\n')
    t0 = time.perf_counter()
    code, _, err = cli("evolve", "--config", toml, "--runs-root", tmp_path, "--name", "r", "--quiet")
    assert code == 2 and "c.toml" in err and f"config field '{field}'" in err and f"[1, {MAX_SEARCH_DEPTH}]" in err, err
    assert time.perf_counter() - t0 < 30 and not (tmp_path / "r").exists()
    code, _, err = cli("evolve", "--store", synthetic_store, "--max-depth", "1000", "--runs-root", tmp_path, "--quiet")
    assert code == 2 and "config field 'max_depth'" in err


def test_a_too_deep_program_or_depth_in_a_run_is_refused_naming_the_file(tmp_path, cli, hostile_run):
    run = tmp_path / "r"
    shutil.copytree(hostile_run[0], run)
    exported = (run / "programs.py").read_text()
    ck = json.loads((run / "checkpoint.json").read_text())
    ck["population"][0][0] = f"layer_mean({_deep(5000, 'abs(T3)')})"
    (run / "checkpoint.json").write_text(json.dumps(ck))
    code, _, err = cli("evolve", "--resume", run, "--generations", "2", "--quiet")
    assert code == 2 and "checkpoint.json: corrupt checkpoint" in err and "deeper than" in err, err
    assert (run / "programs.py").read_text() == exported  # nothing exported
    cfg = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**cfg, "max_depth": 1000}))
    code, _, err = cli("evolve", "--resume", run, "--generations", "2", "--quiet")
    assert code == 2 and "config.json: config field 'max_depth' must be in [1, 20], got 1000" in err, err


# ---- 4. crafted files: exit 2 naming the file and the field, never a traceback ------------

def _cifar_dir(tmp_path, obj, protocol=pickle.DEFAULT_PROTOCOL, name="c"):
    d = tmp_path / name
    d.mkdir()
    with open(d / "test_batch", "wb") as f:
        pickle.dump(obj, f, protocol=protocol)
    return d


IMAGES = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)


@pytest.mark.parametrize("obj,args,names", [
    (5, [], ["holds no 'data' array (a int"]),
    ({"labels": [1, 2]}, [], ["holds no 'data' array (a dict"]),
    ({"data": 5, "labels": [1]}, [], ["field 'data' is a int"]),
    ({"data": "abc", "labels": [1]}, [], ["field 'data' is a str"]),
    ({"data": np.zeros((2, 10), np.uint8)}, [], ["field 'data' is a uint8 array of shape (2, 10)"]),
    ({"data": IMAGES[:1], "labels": [1]}, ["--batch-size", "2"], ["holds 1 image, and a batch of 2 was asked"]),
    ({"data": np.full((2, 3072), np.nan, np.float32)}, [], ["field 'data' holds non-finite pixel values"]),
], ids=["scalar", "no-data", "data-int", "data-str", "data-shape", "too-few", "nan-pixels"])
def test_a_crafted_cifar_batch_is_refused_naming_the_file_and_field(tmp_path, cli, obj, args, names):
    d = _cifar_dir(tmp_path, obj)
    code, _, err = cli("score", "--space", "bench_sss", "--data", f"cifar:{d}", "--proxy", "params", "--n", "2",
                       "--out", tmp_path / "o.csv", *args)
    assert code == 2 and f"{d / 'test_batch'}" in err and not (tmp_path / "o.csv").exists(), err
    for n in names:
        assert n in err, (n, err)
    assert "Traceback" not in err


def test_a_cifar_batch_pickled_again_by_python3_with_protocol_2_loads_and_codecs_is_bounded(tmp_path):
    """A batch loaded with encoding='bytes' (as CIFAR's page shows) and pickled again with
    protocol 2 writes bytes through _codecs.encode(str, 'latin1'): read, and the same images;
    _codecs.encode with any other arguments is refused."""
    from eznas.inputs import load_batch

    plain = _cifar_dir(tmp_path, {"data": IMAGES, "labels": [1, 2]}, name="plain")
    again = _cifar_dir(tmp_path, {b"data": IMAGES, b"labels": [1, 2], b"batch_label": b"testing batch 1 of 1"},
                       protocol=2, name="again")
    assert b"_codecs\nencode" in (again / "test_batch").read_bytes()
    assert torch.equal(load_batch(f"cifar:{again}", 2), load_batch(f"cifar:{plain}", 2))
    bad = tmp_path / "bad"
    bad.mkdir()
    for payload in (b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x05\x00\x00\x00rot13\x86R.",  # another codec
                    b"\x80\x02c_codecs\nencode\nK\x05X\x06\x00\x00\x00latin1\x86R.",  # not a str
                    b"\x80\x02c_codecs\ndecode\nX\x03\x00\x00\x00abcX\x06\x00\x00\x00latin1\x86R."):  # another name
        (bad / "test_batch").write_bytes(payload)
        with pytest.raises(ValueError, match="test_batch is not a CIFAR python-format batch"):
            load_batch(f"cifar:{bad}", 1)


def test_a_truncated_png_is_refused_naming_the_file(tmp_path):
    from PIL import Image

    from eznas.inputs import load_batch

    d = tmp_path / "imgs"
    d.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(d / "a.png")
    full = (d / "a.png").read_bytes()
    (d / "a.png").write_bytes(full[: len(full) // 2])
    with pytest.raises(ValueError, match=r"a\.png is not a readable image"):
        load_batch(f"folder:{d}", 1)


RUN_FILES = {
    "nested": "[" * 100_000 + "]" * 100_000,
    "digits": '{"programs": [{"program": "abs(T3)", "sign": ' + "1" * 100_000 + "}]}",
    "binary": b"\xff\xfe\x00{",
}
HOF_ROWS = [
    ({"program": 5, "sign": 1.0}, "program 0 unreadable (a program is a string, got int)"),
    ({"program": ["abs(T3)"], "sign": 1.0}, "program 0 unreadable (a program is a string, got list)"),
    ({"program": "abs(T3)", "sign": [1]}, "program 0: field 'sign'"),
    ({"program": "abs(T3)", "sign": "abc"}, "program 0: field 'sign'"),
    ({"program": "abs(T3)", "sign": 0}, "program 0: field 'sign'"),
    ({"program": "abs(T3)", "sign": float("nan")}, "program 0: field 'sign'"),
    ({"program": "abs(T3)", "sign": 10 ** 400}, "program 0: field 'sign'"),
    ({"program": "abs(T3)", "function": ["x"]}, "program 0: field 'function'"),
]


@pytest.mark.parametrize("text,names", [(RUN_FILES["nested"], ["corrupt hall of fame", "RecursionError"]),
                                        (RUN_FILES["digits"], ["corrupt hall of fame", "4300 digits"]),
                                        (RUN_FILES["binary"], ["corrupt hall of fame"])]
                         + [(json.dumps({"programs": [row]}), [n]) for row, n in HOF_ROWS],
                         ids=list(RUN_FILES) + [f"row{k}" for k in range(len(HOF_ROWS))])
def test_a_crafted_hall_of_fame_is_refused_naming_the_file_and_field(tmp_path, cli, text, names):
    run = _fake_run(tmp_path, "abs(T3)")
    (run / "hall_of_fame.json").write_bytes(text if isinstance(text, bytes) else text.encode())
    for args in (["analyze", run, "--out", tmp_path / "a", "--draws", "2"],
                 ["score", "--space", "bench_sss", "--proxy", run, "--out", tmp_path / "o.csv", "--n", "3"]):
        code, _, err = cli(*args)
        assert code == 2 and "hall_of_fame.json" in err and all(n in err for n in names), err
    assert not (tmp_path / "a").exists() and not (tmp_path / "o.csv").exists()
    with pytest.raises(ValueError, match="hall_of_fame.json"):
        eznas.load_programs(str(run))


@pytest.mark.parametrize("change,names", [
    ({"gen": "1"}, ["corrupt checkpoint", "field 'gen' must be an integer >= 0, got str 1"]),
    ({"gen": -1}, ["corrupt checkpoint", "field 'gen'"]),
    ({"gen": 10 ** 6}, ["checkpoint field 'gen' is 1000000, beyond the config's generations (2)"]),
    ({"log": "x"}, ["corrupt checkpoint", "field 'log'"]),
    ({"population": []}, ["corrupt checkpoint", "field 'population'"]),
    ({"hof": [["abs(T3)", "x"]]}, ["corrupt checkpoint", "field 'hof'"]),
    ({"population": [["abs(T3)", 10 ** 400]]}, ["corrupt checkpoint"]),
    ("digits", ["corrupt checkpoint", "4300 digits"]),
])
def test_a_crafted_checkpoint_is_refused_naming_the_file_and_field(tmp_path, cli, hostile_run, change, names):
    run = tmp_path / "r"
    shutil.copytree(hostile_run[0], run)
    exported = (run / "programs.py").read_text()
    ck = json.loads((run / "checkpoint.json").read_text())
    text = json.dumps({**ck, "gen": 0}).replace('"gen": 0', '"gen": ' + "9" * 5000) if change == "digits" \
        else json.dumps({**ck, **change})
    (run / "checkpoint.json").write_text(text)
    code, _, err = cli("evolve", "--resume", run, "--generations", "2", "--quiet")
    assert code == 2 and "checkpoint.json" in err and all(n in err for n in names), err
    assert (run / "programs.py").read_text() == exported  # nothing finished, nothing exported


@pytest.mark.parametrize("line,field", [("cxpb = nan", "cxpb"), ("mutpb = inf", "mutpb"), ("cxpb = -inf", "cxpb"),
                                        ("cxpb = 0.7\nmutpb = 0.7", "cxpb")])
def test_probabilities_must_be_finite_in_0_1(tmp_path, cli, synthetic_store, line, field):
    toml = tmp_path / "c.toml"
    toml.write_text(f'store = "{synthetic_store}"\n{line}\n')
    code, _, err = cli("evolve", "--config", toml, "--runs-root", tmp_path, "--name", "r", "--quiet")
    assert code == 2 and "c.toml" in err and f"config field{'s' if 'mutpb = 0.7' in line else ''} '{field}'" in err, err
    assert not (tmp_path / "r").exists()


def test_a_binary_or_damaged_csv_is_refused_naming_the_file(tmp_path, cli):
    gt = tmp_path / "gt.csv"
    gt.write_bytes(b"arch,accuracy\n\xff\xfe\x00\x81,5\n")
    code, _, err = cli("score", "--space", "bench_sss", "--ground-truth", gt, "--proxy", "params", "--n", "2",
                       "--out", tmp_path / "o.csv")
    assert code == 2 and "gt.csv: not a CSV text file" in err, err
    gt.write_text('arch,accuracy\n"' + "x" * 200_000 + '",5\n')  # a field over csv's limit
    code, _, err = cli("score", "--space", "bench_sss", "--ground-truth", gt, "--proxy", "params", "--n", "2",
                       "--out", tmp_path / "o.csv")
    assert code == 2 and "gt.csv: line" in err and "field larger than field limit" in err, err
    out = tmp_path / "s.csv"
    args = ("score", "--space", "bench_sss", "--proxy", "params", "--n", "3", "--out", out, "--quiet")
    assert cli(*args)[0] == 0
    rows = out.read_text().splitlines()
    cells = rows[2].split(",")
    out.write_text("\n".join(rows[:2] + [",".join([cells[0], "abc"] + cells[2:])] + rows[3:]) + "\n")
    code, _, err = cli(*args)
    assert code == 2 and f"{out}: the row of architecture {cells[0]!r}: field 'score' is 'abc', not a number" \
        in err, err
    out.write_bytes(rows[0].encode() + b"\n\xff\xfe\x81,1,2,3,4,5\n")
    code, _, err = cli(*args)
    assert code == 2 and f"{out}: not a CSV text file" in err, err


def test_a_dataset_the_space_does_not_have_is_refused_listing_its_own(tmp_path, cli):
    code, _, err = cli("score", "--space", "bench_sss", "--dataset", "cifar10", "--proxy", "params", "--n", "2",
                       "--out", tmp_path / "o.csv")
    assert code == 2 and "--dataset 'cifar10': space bench_sss has no such dataset; it has digits" in err, err
    assert not (tmp_path / "o.csv").exists()


def test_a_bad_program_string_is_quoted_once_cut_short(tmp_path, cli):
    for text in ("abs(" + "x" * 100_000 + ")", "abs(T3)" + "@" * 100_000, "abs(T3 " + "T3" * 50_000):
        for args in (["score", "--space", "bench_sss", "--proxy", text, "--out", tmp_path / "o.csv"],
                     ["analyze", text, "--out", tmp_path / "a"]):
            code, _, err = cli(*args)
            assert code == 2 and len(err) < 600 and err.count("abs(") == 1, err
        with pytest.raises(ValueError) as e:
            eznas.measures(torch.nn.Conv2d(3, 3, 1), torch.zeros(1, 3, 4, 4), [text])
        assert len(str(e.value)) < 600


def test_ctrl_c_while_the_command_loads_is_an_interruption(tmp_path):
    """SIGINT at the first import of a command module (before torch loads): exit 130 and
    one line, no traceback."""
    code = ("import importlib, os, signal, sys\n"
            "import eznas.cli as c\n"
            "real = importlib.import_module\n"
            "def interrupted(name):\n"
            "    os.kill(os.getpid(), signal.SIGINT)\n"
            "    return real(name)\n"
            "c.importlib.import_module = interrupted\n"
            "c.main(['score', '--help'])\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert r.returncode == 130 and r.stderr.strip() == "interrupted", r.stderr


# ---- 5. eznas.measures: what the caller passes or set on the model -------------------------

def _small():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                               torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                               torch.nn.Conv2d(8, 8, 1), torch.nn.BatchNorm2d(8), torch.nn.AdaptiveAvgPool2d(1),
                               torch.nn.Flatten(), torch.nn.Linear(8, 10))


def _xy(n=4):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 3, 8, 8, generator=g), torch.randint(10, (n,), generator=g)


def test_measures_refuses_inputs_with_no_example_and_strings():
    m = _small()
    for empty in (torch.zeros(0, 3, 8, 8), (torch.zeros(0, 3, 8, 8), torch.zeros(0, dtype=torch.long)),
                  torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(0, 3, 8, 8)), batch_size=4)):
        with pytest.raises(ValueError, match="inputs hold no example|is empty"):
            eznas.measures(m, empty, ["eznas_a", "params"])
    for text in ("x", "abc", b"abc"):
        with pytest.raises(TypeError, match=f"got {type(text).__name__}$"):
            eznas.measures(m, text, ["eznas_a"])


def test_measures_scores_the_model_whatever_the_caller_froze_or_hooked():
    names = ["eznas_a_paper", "grasp", "snip", "synflow", "grad_norm"]
    want = eznas.measures(_small(), _xy(), names)
    m = _small()
    for p in list(m.parameters())[:4]:
        p.requires_grad_(False)
    calls = []

    def raises(*args):
        calls.append(args)
        raise RuntimeError("the caller's hook ran")

    m[0].register_forward_hook(raises)
    m[3].register_forward_pre_hook(raises)
    m[3].register_forward_hook(raises, with_kwargs=True, always_call=True)
    m[6].register_full_backward_hook(raises)
    m[4].register_full_backward_pre_hook(raises)
    assert eznas.measures(m, _xy(), names) == want and calls == []
    assert [p.requires_grad for p in m.parameters()][:5] == [False] * 4 + [True]  # the caller's model as it was
    assert len(m[0]._forward_hooks) == 1 and len(m[6]._backward_hooks) == 1
    with pytest.raises(RuntimeError, match="the caller's hook ran"):
        m(_xy()[0])


def test_the_copy_keeps_torchs_reparametrizations_and_drops_every_other_hook():
    import warnings

    from torch.nn.utils import prune, spectral_norm, weight_norm

    from eznas.proxies import _copy

    with warnings.catch_warnings(), torch.no_grad():  # no_grad: computed weights are leaves, which deepcopy takes
        warnings.simplefilter("ignore")  # weight_norm's deprecation
        m = torch.nn.Sequential(weight_norm(torch.nn.Conv2d(3, 4, 3)), spectral_norm(torch.nn.Conv2d(4, 4, 3)),
                                torch.nn.Conv2d(4, 4, 1))
        prune.l1_unstructured(m[2], "weight", 0.5)
    for mod in m:
        mod.register_forward_pre_hook(lambda *a: None)
        mod.register_forward_hook(lambda *a, **k: None, with_kwargs=True)
    c = _copy(m)
    assert [[type(h).__name__ for h in mod._forward_pre_hooks.values()] for mod in c] == \
        [["WeightNorm"], ["SpectralNorm"], ["L1Unstructured"]]
    assert all(not mod._forward_hooks and not mod._forward_hooks_with_kwargs for mod in c)
    assert all(len(mod._forward_pre_hooks) == 2 and len(mod._forward_hooks) == 1 for mod in m)  # the caller's


# ---- 6. another store, a second writer -------------------------------------------------------

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = ["--population", "6", "--mu", "3", "--lambda", "6", "--task-nets", "12", "--validation-nets", "3",
         "--max-depth", "4", "--quiet"]
# a command run in another process whose work (``module.name``) only says it has begun and
# waits: whatever the command holds (its locks) stays held until the process is killed
STUCK = """
import sys, time
import {module} as m
def stuck(*a, **k):
    print("held", flush=True)
    time.sleep(120)
m.{name} = stuck
from eznas.cli import run
sys.exit(run({argv!r}))
"""


def _in_another_process(code, cwd=None):
    """Start ``code`` in a fresh interpreter (this checkout first on its path) and wait
    until it prints 'held'."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         cwd=cwd, env=env)
    line = p.stdout.readline()
    if line.strip() != "held":
        p.kill()
        raise AssertionError(f"the other process did not start: {line!r} {p.communicate()[1][-3000:]}")
    return p


def _stuck(module, name, *argv, cwd=None):
    return _in_another_process(STUCK.format(module=module, name=name, argv=[str(a) for a in argv]), cwd)


def _kill(p):
    p.kill()
    p.wait()
    p.stdout.close()
    p.stderr.close()


def _files(run, names=("config.json", "checkpoint.json", "log.csv")):
    return {n: (run / n).read_bytes() for n in names}


def test_a_resume_reads_the_store_it_started_on_and_refuses_another_one_there(tmp_path, cli, monkeypatch):
    """Issue 27: a run records its store as typed; resumed from another directory holding
    another store at the same relative path, it searched that one and exited 0."""
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir(), there.mkdir()
    make_store(str(here / "s.zarr"), n=12).close()
    make_store(str(there / "s.zarr"), n=12, seed=1, first=100).close()  # none of the same networks
    monkeypatch.chdir(here)
    assert cli("evolve", "--store", "s.zarr", *SMALL, "--generations", "1", "--runs-root", "runs", "--name", "r")[0] == 0
    run = here / "runs" / "r"
    cfg = json.loads((run / "config.json").read_text())
    ident = cfg["store_identity"]
    assert cfg["store"] == str(here / "s.zarr") and ident["url"] == cfg["store"]  # absolute, from where it started
    from stats_cache.store import StatsStore

    assert ident["uuid"] == StatsStore(here / "s.zarr").uuid and ident["networks"] == {"a": 12, "b": 12}
    hof = json.loads((run / "hall_of_fame.json").read_text())
    # the tester's resume: from another directory, which holds another s.zarr
    monkeypatch.chdir(there)
    code, _, err = cli("evolve", "--resume", run, "--generations", "2")
    assert code == 0, err
    again = json.loads((run / "hall_of_fame.json").read_text())
    assert [r["program"] for r in again["programs"]] and json.loads((run / "config.json").read_text())["store"] == cfg["store"]
    assert {n for r in again["programs"] for n in r["taus"]} == {n for r in hof["programs"] for n in r["taus"]}
    # another store at the run's path (the first one moved away): refused, naming it, nothing changed
    os.rename(here / "s.zarr", here / "kept.zarr")
    make_store(str(here / "s.zarr"), n=12).close()  # the same networks, collected again: another store
    before = _files(run)
    code, _, err = cli("evolve", "--resume", run, "--generations", "3")
    assert code == 2 and f"{run / 'config.json'}: the run searched the store {here / 's.zarr'}" in err, err
    assert f"store uuid {ident['uuid']} recorded" in err and _files(run) == before
    # a run whose store is named elsewhere (an edited config.json): both paths, and what differs
    (run / "config.json").write_text(json.dumps({**json.loads(before["config.json"]), "store": str(there / "s.zarr")}))
    code, _, err = cli("evolve", "--resume", run, "--generations", "3")
    assert code == 2 and str(here / "s.zarr") in err and f"the store it reads now, {there / 's.zarr'}, is another" in err
    assert "uuid" in err and "its networks differ (as many, but other network keys or architectures)" in err, err
    # the store moved, the run told where: the same store, resumed
    (run / "config.json").write_text(json.dumps({**json.loads(before["config.json"]), "store": str(here / "kept.zarr")}))
    code, _, err = cli("evolve", "--resume", run, "--generations", "3")
    assert code == 0, err
    # a run recorded before identities (a relative store, no identity): resumed unchecked, warned once
    old = {k: v for k, v in json.loads((run / "config.json").read_text()).items() if k != "store_identity"}
    (run / "config.json").write_text(json.dumps({**old, "store": "kept.zarr"}))
    monkeypatch.chdir(here)
    code, _, err = cli("evolve", "--resume", run, "--generations", "4")
    assert code == 0 and err.count("is not checked to be the one it started on") == 1, err
    assert not json.loads((run / "config.json").read_text())["store_identity"]  # nor recorded now


def test_exclude_run_refuses_another_store_at_the_runs_path(tmp_path, cli, hostile_run, monkeypatch):
    from eznas.score import task_archs

    run, store = hostile_run
    space = "nb201"  # the store's spaces are no benchmark's: nothing is excluded, but the store is checked
    assert task_archs(str(run), space) == set()
    copy = tmp_path / "r"
    shutil.copytree(run, copy)
    cfg = json.loads((copy / "config.json").read_text())
    other = tmp_path / "other.zarr"
    make_store(str(other), spaces=tuple(cfg["store_identity"]["spaces"]), n=20).close()  # same spaces and keys
    (copy / "config.json").write_text(json.dumps({**cfg, "store": str(other)}))
    code, _, err = cli("score", "--proxy", "params", "--space", "bench_sss", "--n", "2", "--exclude", copy,
                       "--out", tmp_path / "o.csv")
    assert code == 2 and f"--exclude {copy}: {copy / 'config.json'}: the run searched the store {store}" in err, err
    assert f"the store it reads now, {other}, is another store" in err and not (tmp_path / "o.csv").exists()
    # stores made before uuids are known by their networks: the same keys with other architectures differ
    import zarr

    for url, first in ((tmp_path / "old.zarr", 0), (tmp_path / "old2.zarr", 50)):
        make_store(str(url), spaces=("a",), n=12, first=first).close()
        g = zarr.open_group(str(url), mode="a")
        g.attrs.put({k: v for k, v in g.attrs.items() if k != "uuid"})
    from stats_cache.store import StatsStore, other_store

    one, two = (StatsStore(u).identity() for u in (tmp_path / "old.zarr", tmp_path / "old2.zarr"))
    assert one["uuid"] is None and one["networks"] == two["networks"] == {"a": 12}
    assert "as many, but other network keys or architectures" in other_store(one, two)
    assert other_store(one, StatsStore(tmp_path / "old.zarr").identity(["a"])) == ""
    # a run config from before identities: read unchecked, with one warning
    (copy / "config.json").write_text(json.dumps({k: v for k, v in cfg.items() if k != "store_identity"}))
    code, _, err = cli("score", "--proxy", "params", "--space", "bench_sss", "--n", "2", "--exclude", copy,
                       "--exclude", copy, "--out", tmp_path / "o.csv", "--quiet")
    assert code == 0 and err.count("is not checked to be the one it searched") == 1, err


def test_a_second_search_in_a_run_directory_is_refused_and_a_killed_ones_lock_blocks_nobody(tmp_path, cli, hostile_run):
    """Issue 27: two `eznas evolve --resume` on one run both exited 0; config.json said 2
    generations while the checkpoint and the log said 5."""
    run = tmp_path / "r"
    shutil.copytree(hostile_run[0], run)
    before = _files(run)
    other = _stuck("eznas.evolve.search", "search", "evolve", "--resume", run, "--generations", "5", "--quiet")
    try:
        code, _, err = cli("evolve", "--resume", run, "--generations", "2", "--quiet")
        assert code == 2 and f"{run}: another eznas evolve is searching in this run directory" in err, err
        assert f"pid {other.pid} on host" in err and f"{run}.lock" in err and _files(run) == before
        link = tmp_path / "link"  # another spelling of the same directory: the same lock
        link.symlink_to(run)
        assert cli("evolve", "--resume", link, "--generations", "2", "--quiet")[0] == 2 and _files(run) == before
    finally:
        _kill(other)
    code, _, err = cli("evolve", "--resume", run, "--generations", "2", "--quiet")  # its lock went with it
    assert code == 0, err
    gens = [int(r.split(",")[0]) for r in (run / "log.csv").read_text().splitlines()[1:]]
    assert json.loads((run / "config.json").read_text())["generations"] == 2 == gens[-1]
    assert json.loads((run / "checkpoint.json").read_text())["gen"] == 2 and gens == [0, 1, 2]


@pytest.mark.parametrize("command,module,name", [("score", "eznas.score", "score_space"),
                                                 ("nas", "eznas.nas.experiment", "run_nas")])
def test_a_second_writer_of_a_score_or_nas_output_is_refused(tmp_path, cli, command, module, name):
    """Issue 27: two `eznas score` on one --out wrote duplicate rows and a header mid-CSV."""
    out = tmp_path / ("o.csv" if command == "score" else "nas")
    args = {"score": ["score", "--proxy", "params", "--space", "bench_sss", "--n", "3", "--out", out, "--quiet"],
            "nas": ["nas", "--space", "bench_sss", "--proxy", "params", "--seeds", "1", "--queries", "5", "--jobs", "1",
                    "--cache", tmp_path / "cache", "--out", out, "--quiet"]}[command]
    other = _stuck(module, name, *args, cwd=tmp_path)
    try:
        code, _, err = cli(*args)
        assert code == 2 and f"--out {out}: another process is writing this output" in err, err
        assert f"pid {other.pid} on host" in err and f"{out}.lock" in err and not out.exists()
    finally:
        _kill(other)
    if command == "nas":
        return
    for _ in range(2):  # the lock went with the killed process; a second run adds nothing
        code, _, err = cli(*args)
        assert code == 0, err
        lines = out.read_text().splitlines()
        assert lines[0].startswith("arch,") and len(lines) == 4 and not any(r.startswith("arch,") for r in lines[1:])


def test_a_second_writer_through_a_symlink_to_the_store_is_refused(tmp_path, cli):
    """Issue 27: the store's lock was keyed on the path as typed: a writer through a symlink
    got in, and one of the two crashed."""
    from stats_cache.store import StatsStore, StoreLockedError

    real = tmp_path / "real" / "s.zarr"
    real.parent.mkdir()
    make_store(str(real), spaces=("a",), n=2).close()
    link = tmp_path / "link.zarr"
    link.symlink_to(real)
    cfg = {"synthetic": True, "dtype": "float32"}
    other = _in_another_process("import time; from stats_cache.store import StatsStore\n"
                                f"s = StatsStore({str(real)!r}, 'a', config={cfg!r}); print('held', flush=True); "
                                "time.sleep(120)")
    try:
        for url in (link, f"file://{link}", os.path.relpath(link)):
            with pytest.raises(StoreLockedError, match=f"pid {other.pid} on host .* holds {real}.lock"):
                StatsStore(url, "a", config=cfg)
        code, _, err = cli("collect", "--space", "bench_sss", "--n", "1", "--store", link, "--quiet")
        assert code == 2 and "another process is writing to this store" in err and f"pid {other.pid}" in err, err
        assert StatsStore(link).networks("a") == ["n000000", "n000001"]  # readers are never blocked
    finally:
        _kill(other)
    with StatsStore(link, "a", config=cfg) as s:  # the killed writer's lock blocks nobody
        assert s.networks("a") == ["n000000", "n000001"]


# ---- 7. store metadata: edited or cut short is damage (exit 1), and --verify repairs it --------

SPACE = "bench_sss-digits"
COLLECT = ["collect", "--space", "bench_sss", "--n", "11", "--quiet", "--store"]


def _values(net):
    """A network's groups as read: (layer indices, {kind: sha256 of its float32 bytes})."""
    return [(idx, {n: hashlib.sha256(t.numpy().tobytes()).hexdigest() for n, t in env.items()})
            for idx, env in net.groups]


def _read_all(url):
    """{key: (attrs, values)} of every network, as read."""
    from stats_cache.store import StatsStore

    s = StatsStore(url, "r")
    return {k: (attrs, _values(s.read_network(SPACE, k))) for k, attrs in s.network_attrs(SPACE).items()}


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    """A store of 11 bench_sss networks collected by ``eznas collect``, what reads from it,
    and the search network that an ``eznas evolve`` on it reads first (its validity filter)."""
    from eznas.evolve.task import Task

    url = str(tmp_path_factory.mktemp("collected") / "s.zarr")
    assert eznas_run(COLLECT + [url]) == 0
    return url, _read_all(url), Task(url, task_nets=11, validation_nets=3).nets[SPACE][0]


def _copy(collected, tmp_path):
    url = str(tmp_path / "s.zarr")
    shutil.copytree(collected[0], url)
    return url


def _evolve(url, tmp_path):
    return ["evolve", "--store", url, "--task-nets", "11", "--validation-nets", "3", "--population", "6", "--mu", "3",
            "--lambda", "6", "--max-depth", "4", "--generations", "1", "--quiet", "--runs-root", tmp_path / "runs"]


def _edit(path, change):
    with open(path) as f:
        meta = json.load(f)
    change(meta)
    with open(path, "w") as f:
        json.dump(meta, f, indent=2)


def _cut(path):
    text = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(text[: len(text) // 2])


def _set(d, path, value):
    *head, last = path
    for p in head:
        d = d[p]
    d[last] = value(d[last]) if callable(value) else value


CUT = None  # the file cut short, as by a kill during its write
# what the tester did to a network's metadata (issue 27): the file ({k}: the network), the
# change of its JSON (CUT: cut short) and what the error says
METADATA = {
    "accuracy edited": ("{k}/zarr.json", lambda m: _set(m, ["attributes", "accuracy"], 99.0),
                        "'accuracy' changed (reads 99.0)"),
    "a group's shapes edited": ("{k}/zarr.json", lambda m: _set(m, ["attributes", "shapes", "w", 0], lambda v: v[::-1]),
                                "'shapes' changed"),
    "a checksum edited": ("{k}/zarr.json", lambda m: _set(m, ["attributes", "checksums", "out", 0], lambda c: c ^ 1),
                          "'checksums' changed"),
    "the checksums removed": ("{k}/zarr.json", lambda m: m["attributes"].pop("checksums"), "'checksums' removed"),
    "an attribute added": ("{k}/zarr.json", lambda m: _set(m, ["attributes", "flops2"], 1), "'flops2' added"),
    "the digest edited": ("{k}/zarr.json", lambda m: _set(m, ["attributes", "meta_digest", "attrs", "arch"], "0" * 16),
                          "'arch' changed"),
    "an array's data_type edited": ("{k}/w/zarr.json", lambda m: _set(m, ["data_type"], "int32"),
                                    "w/zarr.json does not match its network's digest"),
    "an array's codecs edited": ("{k}/out/zarr.json",
                                 lambda m: _set(m, ["codecs", 0, "configuration", "chunk_shape"], [2, 1]), "'codecs' changed"),
    "an array's metadata cut short": ("{k}/in/zarr.json", CUT, "array metadata in/zarr.json unreadable (JSONDecodeError"),
}


@pytest.mark.parametrize("how", list(METADATA))
def test_edited_or_cut_short_network_metadata_is_damage_naming_the_file_and_verify_recollects_it(
        tmp_path, cli, collected, how):
    """Issue 27: an edited accuracy, shape, data type or checksum read as wrong numbers (a T3
    sum of 128 as 7.7e11) and --verify passed; array metadata cut short was exit 2 naming no file."""
    from stats_cache.store import DamagedError, StatsStore

    _, before, key = collected
    url = _copy(collected, tmp_path)
    file, change, says = METADATA[how]
    where = f"{url}/{SPACE}/{file.format(k=key)}"
    _cut(where) if change is CUT else _edit(where, change)
    code, _, err = cli(*_evolve(url, tmp_path))
    assert code == 1 and f"{where}: " in err and says in err and "--verify" in err, err
    assert "Traceback" not in err
    with pytest.raises(DamagedError, match=re.escape(where)):  # the reader says the same: never values
        s = StatsStore(url, "r")
        s.network_attrs(SPACE)
        s.read_network(SPACE, key)
    assert list(StatsStore(url, "r").verify(SPACE)) == [key]  # only that network
    code, _, err = cli(*COLLECT, url, "--verify")
    assert code == 0 and f"{SPACE}/{key}: " in err and "recollecting it" in err and "1 damaged" not in err, err
    assert _read_all(url) == before  # recollected as it was
    assert StatsStore(url, "r").verify(SPACE) == {}


def test_networks_written_before_digests_read_with_one_warning_and_verify_recollects_them(tmp_path, cli, collected):
    """A store written before metadata digests (or before checksums) reads the same values,
    with one warning; what can still be checked is checked (an array's data type against
    its space's config, its shape against the network's shapes); --verify recollects them all."""
    from stats_cache.store import DamagedError, StatsStore

    _, before, _ = collected
    url = _copy(collected, tmp_path)
    old, older, edited, reshaped = sorted(before)[:4]
    for k in (old, older, edited, reshaped):
        _edit(f"{url}/{SPACE}/{k}/zarr.json", lambda m: m["attributes"].pop("meta_digest"))
    _edit(f"{url}/{SPACE}/{older}/zarr.json", lambda m: m["attributes"].pop("checksums"))
    s = StatsStore(url, "r")
    with pytest.warns(UserWarning) as caught:
        attrs = s.network_attrs(SPACE)
        nets = {k: s.read_network(SPACE, k) for k in (old, older)}
        s.network_attrs(SPACE)
    said = [str(w.message) for w in caught]
    assert sum("written before metadata digests" in m for m in said) == 1, said
    assert sum("written before checksums" in m for m in said) == 1, said

    def without(a, *names):
        return {n: v for n, v in a.items() if n not in names}

    stripped = {k: ["meta_digest"] for k in (old, edited, reshaped)} | {older: ["meta_digest", "checksums"]}
    assert attrs == {k: without(a, *stripped.get(k, [])) for k, (a, _) in before.items()}
    assert {k: _values(net) for k, net in nets.items()} == {k: before[k][1] for k in nets}  # the same values
    # without a digest, a data type or shape that the space and the network's shapes refute is still damage
    _edit(f"{url}/{SPACE}/{edited}/w/zarr.json", lambda m: _set(m, ["data_type"], "int32"))
    with pytest.raises(DamagedError, match=re.escape(f"{url}/{SPACE}/{edited}/w/zarr.json: array w/zarr.json: data type "
                                                     f"<i4, but space '{SPACE}' stores float32 (<f4)")):
        s.read_network(SPACE, edited)
    _edit(f"{url}/{SPACE}/{reshaped}/zarr.json", lambda m: _set(m, ["attributes", "shapes", "w", 0, 0], lambda n: n + 1))
    with pytest.raises(DamagedError, match=re.escape(f"{url}/{SPACE}/{reshaped}/w/zarr.json: array w/zarr.json: shape")):
        s.read_network(SPACE, reshaped)
    with pytest.warns(UserWarning, match="written before metadata digests"):
        code, _, err = cli(*COLLECT, url, "--verify")
    assert code == 0, err
    for k in (old, older, edited, reshaped):
        assert f"{SPACE}/{k}: no metadata digest (written before digests were recorded" in err, err
    assert _read_all(url) == before


@pytest.mark.parametrize("how", ["cut short", "deleted"])
def test_a_spaces_damaged_metadata_is_damage_naming_the_file_and_what_to_do(tmp_path, cli, collected, how):
    """Issue 27: a space's zarr.json cut short was exit 2 ("Unterminated string ...") naming no
    file, and --verify crashed the same way.  Its config cannot be told again, so nothing
    rewrites it: every command says which file and what to do, and changes nothing."""
    _, before, _ = collected
    url = _copy(collected, tmp_path)
    meta = f"{url}/{SPACE}/zarr.json"
    _cut(meta) if how == "cut short" else os.remove(meta)

    def files():
        return {os.path.join(d, f): open(os.path.join(d, f), "rb").read() for d, _, fs in os.walk(url) for f in fs}

    kept = files()
    for args in (_evolve(url, tmp_path), [*COLLECT, url], [*COLLECT, url, "--verify"]):
        code, _, err = cli(*args)
        assert code == 1 and f"{meta}: space metadata {'unreadable' if how == 'cut short' else 'missing'}" in err, err
        assert "restore this file from a copy of the store" in err and f"delete the space's folder {url}/{SPACE}" in err
        assert "Traceback" not in err and files() == kept
    shutil.rmtree(f"{url}/{SPACE}")  # what it says to do
    assert cli(*COLLECT, url)[0] == 0 and _read_all(url) == before


def test_the_stores_metadata_cut_short_is_damage_naming_the_file(tmp_path, cli, collected):
    url = _copy(collected, tmp_path)
    _cut(f"{url}/zarr.json")
    for args in (_evolve(url, tmp_path), [*COLLECT, url, "--verify"]):
        code, _, err = cli(*args)
        assert code == 1 and f"{url}/zarr.json: store metadata unreadable (JSONDecodeError" in err, err
        assert "restore this file from a copy of the store" in err


def test_damage_found_in_a_worker_process_is_damage_in_its_parent():
    """A ``DamagedError`` pickles as itself (it crossed from a joblib worker as a
    BrokenProcessPool, a traceback instead of exit 1)."""
    from stats_cache.store import DamagedError

    e = pickle.loads(pickle.dumps(DamagedError("s.zarr/sp/n000000/w/zarr.json", "array missing", "do this")))
    assert type(e) is DamagedError and str(e) == "s.zarr/sp/n000000/w/zarr.json: array missing; do this"
    assert (e.where, e.reason, e.repair) == ("s.zarr/sp/n000000/w/zarr.json", "array missing", "do this")
