import numpy as np
import pytest

from eznas.evolve.task import Task
from eznas.fitness import evaluate
from eznas.parallel import backend

distributed = pytest.importorskip("distributed")

PROGRAMS = ["normalized_sum(T3)", "l1_norm(T1G_D)", "frobenius_norm(sigmoid(logdet(sign(T3G_N))))",
            "hamming_dist(T2_D, T4_N)", "reciprocal(zeros_like(T3))"]


def test_dask_cluster_gives_the_local_fitness(synthetic_store):
    task = Task(synthetic_store, seed=0, validation_nets=6)
    sample = task.sample(1, 4, 10)
    local, _ = evaluate(PROGRAMS, synthetic_store, sample, task.accuracy, jobs=1)
    with distributed.LocalCluster(host="127.0.0.1", n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with backend("dask", cluster.scheduler_address):
            remote, _ = evaluate(PROGRAMS, synthetic_store, sample, task.accuracy, jobs=2)
    assert [f is None for f in local] == [f is None for f in remote]
    assert np.allclose([f for f in local if f is not None], [f for f in remote if f is not None], rtol=0, atol=0)
    assert local[0] == pytest.approx(1.0)
