"""``python -m eznas.evolve`` is ``eznas evolve``."""
import sys

from eznas.cli import main

main(["evolve", *sys.argv[1:]])
