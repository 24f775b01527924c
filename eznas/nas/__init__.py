"""Architecture search on table benchmarks with zero-cost proxies (``eznas nas``):
random search, aging evolution, and aging evolution with a proxy's warm-up and move
proposal; proxy scores cached on disk.

- ``search``: the algorithms, on a ``TableBenchmark``;
- ``proxy_scores``: ``ProxyScores``, a proxy's scores by network index, kept on disk;
- ``experiment``: ``run_nas``, every variant on the same seeds, and its ``NasResult``;
- ``report``: the CSV, table and plot it writes.
"""
from eznas.nas.experiment import NasResult, Settings, run_nas
from eznas.nas.proxy_scores import ProxyScores
from eznas.nas.search import TableBenchmark, aging_evolution, random_search

__all__ = ["NasResult", "ProxyScores", "Settings", "TableBenchmark", "aging_evolution", "random_search", "run_nas"]
