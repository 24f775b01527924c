import torch
import torch.nn as nn

from eznas.baselines import BASELINES, naswot_kernel
from eznas.spaces.bench import build_bench_nb201

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"


def test_naswot_kernel_diagonal_is_number_of_relu_units():
    torch.manual_seed(0)
    net = build_bench_nb201(ARCH)
    x = torch.randn(4, 1, 8, 8)
    units = []
    hs = [m.register_forward_hook(lambda m, i, o: units.append(o[0].numel())) for m in net.modules() if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        net(x)
    for h in hs:
        h.remove()
    k = naswot_kernel(net, x)
    assert torch.equal(k.diag(), torch.full((4,), float(sum(units)), dtype=torch.float64))
    assert torch.equal(k, k.T)


def test_every_baseline_gives_a_finite_number():
    x = torch.randn(4, 1, 8, 8)
    y = torch.tensor([0, 1, 2, 3])
    for name, fn in BASELINES.items():
        torch.manual_seed(0)
        v = fn(build_bench_nb201(ARCH), x, y)
        assert isinstance(v, float) and v == v and abs(v) != float("inf"), name


def test_synflow_hand_value_on_a_linear_chain():
    net = nn.Sequential(nn.Flatten(), nn.Linear(2, 2, bias=False), nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        net[1].weight.copy_(torch.tensor([[1.0, -2.0], [3.0, 4.0]]))
        net[2].weight.copy_(torch.tensor([[-1.0, 2.0]]))
    # |W|: R = [1,2] @ [[1,2],[3,4]] @ [1,1] = 1*(1+2) + 2*(3+4) = 17; synflow = sum_w |w dR/dw| = 2R = 34
    assert BASELINES["synflow"](net, torch.ones(1, 1, 2)) == 34.0


def test_jacob_cov_of_a_network_cut_off_from_its_input():
    from eznas.spaces.bench import build_bench_nb201 as b

    torch.manual_seed(0)
    net = b("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")  # the cell outputs zeros
    v = BASELINES["jacob_cov"](net, torch.randn(4, 1, 8, 8))
    k = 1e-5
    assert v == -4 * (torch.log(torch.tensor(k, dtype=torch.float64)) + 1 / k).item()  # all eigenvalues 0


def test_eznas_a_forms_read_their_terminals_on_the_whole_batch():
    from eznas.baselines import EZNAS_A, EZNAS_A_PAPER, eznas_a, eznas_a_paper, eznas_a_sum
    from eznas.program import parse, score_network
    from stats_cache.collect import collect, group_layers

    assert EZNAS_A.endswith("(T1G_D))))") and EZNAS_A_PAPER.endswith("(T3G_N))))")
    x = torch.randn(3, 1, 8, 8)
    torch.manual_seed(1)
    net = build_bench_nb201(ARCH)
    groups = group_layers(collect(net, x, seed=0))  # all 22 kinds, whole batch
    n_layers = sum(len(i) for i, _ in groups)
    assert eznas_a(net, x) == score_network(parse(EZNAS_A), groups)
    assert eznas_a_paper(net, x) == score_network(parse(EZNAS_A_PAPER), groups)
    assert abs(eznas_a_sum(net, x) - n_layers * eznas_a(net, x)) < 1e-9 * abs(eznas_a_sum(net, x))
    # the batch is used: the first image alone gives another value
    assert eznas_a(net, x) != eznas_a(net, x[:1])


def test_batch_comparing_proxies_refuse_batch_one():
    import pytest

    from eznas.baselines import BatchSizeError

    net = build_bench_nb201(ARCH)
    for name in ("naswot", "jacob_cov"):
        with pytest.raises(BatchSizeError, match=name):
            BASELINES[name](net, torch.randn(1, 1, 8, 8))
