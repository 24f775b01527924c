"""Every experiment script still imports and parses its arguments (they run for hours, so
a renamed module would otherwise be found only when someone reruns a benchmark)."""
import glob
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = sorted(p for p in glob.glob(os.path.join(ROOT, "experiments", "*.py")) if not p.endswith("common.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=os.path.basename)
def test_experiment_script_help(script):
    r = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and "usage" in r.stdout.lower(), r.stderr[-2000:]
