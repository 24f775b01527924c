"""``python -m eznas`` is the ``eznas`` command."""
from eznas.cli import main

main()
