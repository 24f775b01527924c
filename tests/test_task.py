import random

import pytest

from eznas.evolve.primitives import PSET, from_string, make_toolbox, mutate
from eznas.evolve.task import Task
from eznas.program import ProgramError


def test_search_and_validation_networks_are_disjoint_and_samples_use_search_only(synthetic_store):
    task = Task(synthetic_store, task_nets=20, validation_nets=6, seed=1)
    for s in task.spaces:
        assert len(task.validation[s]) == 6 and len(task.nets[s]) == 14
        assert not set(task.validation[s]) & set(task.nets[s])
        for g in range(5):
            assert set(task.sample(g, 4, 5)[s]) <= set(task.nets[s])
        assert task.sample(3, 4, 0)[s] == task.nets[s]  # 0: every search network
    other = Task(synthetic_store, task_nets=20, validation_nets=6, seed=2)
    assert any(other.validation[s] != task.validation[s] for s in task.spaces)  # the split follows the seed
    with pytest.raises(ValueError, match="too few"):
        Task(synthetic_store, task_nets=20, validation_nets=15)


def test_shape_only_programs_are_rejected(synthetic_store):
    task = Task(synthetic_store, validation_nets=6)
    for shape_only in ("softmax(T1_D)", "numel(T3)", "ones_like(T2G_N)", "layer_sum(l1_norm(softmax(T4_N)))"):
        assert not task.valid(shape_only), shape_only
    for real in ("l1_norm(T1G_D)", "normalized_sum(T3)", "layer_sum(frobenius_norm(T2_D))"):
        assert task.valid(real), real
    assert not task.valid("reciprocal(zeros_like(T3))")  # infinite: invalid as before


def test_programs_are_built_without_eval_and_mutation_at_the_root_flips_the_aggregation():
    with pytest.raises(ProgramError):
        from_string("9**9**9**9")
    with pytest.raises(ProgramError):
        from_string("__import__('os').system('true')")
    ind = from_string("layer_sum(l1_norm(T1G_D))")
    assert str(ind) == "layer_sum(l1_norm(T1G_D))"
    random.seed(0)
    while True:  # draw until the root is chosen
        m = mutate(from_string(str(ind)), PSET)[0]
        if str(m).startswith("layer_mean("):
            assert str(m) == "layer_mean(l1_norm(T1G_D))"
            break
    tb = make_toolbox(max_depth=6)
    for _ in range(100):
        a, b = tb.individual(), tb.individual()
        for child in tb.mate(a, b) + tb.mutate(tb.individual()):
            assert str(child).startswith(("layer_mean(", "layer_sum(")) and str(child).count("layer_") == 1


def test_dead_subtrees_are_simplified_to_a_terminal_of_the_same_shape(synthetic_store):
    from eznas.parallel import score_items
    from eznas.simplify import simplify

    task = Task(synthetic_store, validation_nets=6)
    prog = "layer_sum(l1_norm(mul(T1_D, ones_like(log(abs(T1G_N))))))"
    simple = simplify(prog, task.shape_sets())
    assert simple == "layer_sum(l1_norm(mul(T1_D, ones_like(T1_D))))"
    items = [(s, k) for s, ks in task.full().items() for k in ks]
    a, b = score_items(synthetic_store, [prog, simple], items)
    assert (a == b).all()
    assert simplify("layer_mean(numel(frobenius_norm(T2_D)))", task.shape_sets()) == "layer_mean(numel(frobenius_norm(T2_D)))"
