"""A new user's rough edges (issue 26) that belong to no single command: every command's
--help (flags --quiet / --verbose, defaults shown, no reST markup) and the module entry
points of earlier releases."""
import argparse
import os
import re
import subprocess
import sys

import pytest

from eznas.cli import HelpFormatter, parser

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def commands(p, path=("eznas",)):
    """(command path, parser) of every command and nested subcommand."""
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sp in action.choices.items():
                yield path + (name,), sp
                yield from commands(sp, path + (name,))


def test_every_command_takes_quiet_and_verbose_and_shows_its_defaults():
    found = list(commands(parser()))
    assert ("eznas", "bench", "build") in [path for path, _ in found] and len(found) >= 9
    for path, sp in found:
        flags = {o for a in sp._actions for o in a.option_strings}
        assert {"--quiet", "-q", "--verbose", "-v"} <= flags, path
        assert sp.formatter_class is HelpFormatter, path
        text = sp.format_help()
        assert "``" not in text, path
        shown = [a for a in sp._actions if a.option_strings and a.default not in (None, False, argparse.SUPPRESS)
                 and a.help and "default" not in a.help]
        for a in shown:
            assert re.search(rf"{re.escape(a.option_strings[0])}.*?\(default: ", text, re.S), (path, a.option_strings)
    assert "``" not in parser().format_help()


@pytest.mark.parametrize("argv", [["bench", "-q", "build"], ["bench", "build", "-q"]])
def test_a_nested_commands_quiet_holds_wherever_it_is_given(argv):
    a = parser().parse_args(argv + ["--space", "bench_sss", "--out", "x.csv"])
    assert a.quiet is True and a.verbose is False
    a = parser().parse_args(["bench", "build", "--space", "bench_sss", "--out", "x.csv"])
    assert a.quiet is False and a.verbose is False


def documented_modules():
    """The eznas.X that README, DESIGN, BENCHMARKS and the package's own text run as
    ``python -m eznas.X``, and the entry points of earlier releases."""
    found = {"eznas.score", "eznas.collect", "eznas.collection"}  # earlier releases' commands, and collect's new name
    files = [os.path.join(ROOT, f) for f in ("README.md", "DESIGN.md", "BENCHMARKS.md")]
    for d, _, names in os.walk(os.path.join(ROOT, "eznas")):
        files += [os.path.join(d, n) for n in names if n.endswith(".py")]
    for f in files:
        if os.path.exists(f):
            found |= set(re.findall(r"python -m (eznas(?:\.\w+)+)", open(f).read()))
    return sorted(found)


def runnable(module):
    """True when ``python -m module`` does something: a package with __main__.py or a
    module with a __main__ block."""
    path = os.path.join(ROOT, *module.split("."))
    if os.path.isdir(path):
        return os.path.isfile(os.path.join(path, "__main__.py"))
    return os.path.isfile(path + ".py") and '__name__ == "__main__"' in open(path + ".py").read()


def test_every_documented_module_entry_point_does_something():
    mods = documented_modules()
    assert "eznas.evolve" in mods and "eznas.bench" in mods
    assert [m for m in mods if not runnable(m)] == []


@pytest.mark.parametrize("module, command", [("eznas.score", "score"), ("eznas.collect", "collect"),
                                             ("eznas.collection", "collect")])
def test_old_entry_points_say_what_to_run_and_exit_2(module, command):
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run([sys.executable, "-m", module, "--proxy", "params"], capture_output=True, text=True, env=env,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 2 and f"eznas {command}" in r.stderr and r.stdout == ""


def test_the_renamed_module_says_its_new_name_when_imported():
    with pytest.raises(ImportError, match="eznas.collection"):
        import eznas.collect  # noqa: F401
