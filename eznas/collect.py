"""``python -m eznas.collect`` was the collection command of earlier releases; it is now
``eznas collect``, and the library code it ran is ``eznas.collection``.  Run as a module,
this says so and exits 2; imported, it raises ImportError naming the new module."""
import sys

if __name__ == "__main__":
    print("python -m eznas.collect is not a command (any more): run `eznas collect` (or `python -m eznas collect`); "
          "`eznas collect --help` lists its flags", file=sys.stderr)
    sys.exit(2)
raise ImportError("eznas.collect was renamed eznas.collection (its command is `eznas collect`)")
