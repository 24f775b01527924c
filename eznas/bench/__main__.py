"""``python -m eznas.bench`` is ``eznas bench``."""
import sys

from eznas.cli import main

main(["bench", *sys.argv[1:]])
