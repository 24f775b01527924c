"""Proxies the engine discovered, shipped by name.

A name here is usable wherever a baseline name is: ``eznas score --proxy NAME``,
``eznas.measures(model, x, [NAME])``, ``eznas nas --proxy NAME``, ``eznas analyze NAME``,
and every held-out table shows it beside the baselines.  Each is a program string (parsed,
never executed) scored from the collector's statistics like any program, with the command
that found it.  Figures: BENCHMARKS.md, "A discovered proxy for every real space (issue 24)".
"""

DISCOVERED = {
    # per channel of each layer: the H x W pattern of where the gradient through the ReLU is
    # positive on the noise batch N, its determinant squashed to [0, 1) (sigmoid of log det: 0
    # for a singular pattern, 1/2 for a negative determinant); averaged over channels and
    # layers, times the network's FLOPs
    "eznas_gf": {
        "program": "times_flops(layer_mean(sigmoid(logdet(sign(greater_than_zero(T1G_N))))))",
        "found_by": "eznas evolve --config overnight, seed 0 (size_factor flops; runs/ovf-s0): program_4 of that "
                    "run's validation-ranked hall of fame, first when the hall of fame is ranked on all 100 task "
                    "networks per pair (rank_on task, the preset's rule since: minimum plus mean over spaces of "
                    "Kendall tau; the minimum alone ranks it first too); search fitness 0.486",
        # the networks that chose it: the built-in task's first 100 networks per pair (seed 0)
        "task_nets": 100,
        "seed": 0,
    },
}

