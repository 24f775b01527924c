"""EZNAS engine: discover zero-cost NAS proxies by genetic programming, and use them.

Python API (the command line is ``eznas``):

- ``eznas.measures(model, inputs, names, device=None, loss_fn=None)`` -> {name: score}
  for baselines, program strings, a run's programs or exported functions (the model is
  left exactly as it was);
- ``eznas.load_programs(run_dir)`` -> the run's exported programs (those of its
  programs.py), best first, each callable as ``program(model, inputs)`` and carrying its
  formula;
- ``eznas.search(config, run_dir=None)`` -> SearchResult (run directory, ranked programs,
  held-out table);
- ``eznas.find_layers(model, inputs)`` -> the layers programs read and the convolutions
  left out, with why;
- ``eznas.run_nas(space, dataset, proxies, variants, settings)`` -> NasResult: random
  search, aging evolution and aging evolution with a proxy's warm-up / move proposal on a
  table benchmark (``eznas.nas`` holds the algorithms and the proxy-score cache);
- ``eznas.analyze(program)`` -> its expected per-layer value as channels, kernel size and
  spatial size are swept (the EZNAS paper's Figure 6).
"""
from eznas.version import __version__

__all__ = ["measures", "load_programs", "search", "find_layers", "Program", "run_nas", "analyze", "__version__"]


def __getattr__(name):  # lazy: `import eznas` stays light (torch and deap load on first use)
    if name in ("measures", "load_programs", "find_layers", "Program"):
        from eznas import proxies as m

        return getattr(m, name)
    if name == "search":
        from eznas.evolve.search import search

        return search
    if name == "nas":
        import eznas.nas

        return eznas.nas
    if name == "run_nas":
        from eznas.nas.experiment import run_nas

        return run_nas
    if name == "analyze":
        from eznas.analyze import analyze

        return analyze
    raise AttributeError(f"module 'eznas' has no attribute {name!r}")
