import torch
import torch.nn as nn

from eznas.spaces.bench import build_bench_nb201
from eznas.spaces import nb201
from stats_cache.collect import collect, make_inputs
from stats_cache.layers import find_layers
from stats_cache.schema import KINDS

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"


def tiny():
    torch.manual_seed(0)
    return build_bench_nb201(ARCH)  # C=8, one cell per stage, 1x8x8 input


def test_layer_count_matches_architecture():
    x = torch.randn(1, 1, 8, 8)
    # 3 convs per cell x 3 cells + 2 per residual block x 2 = 13; avg_pool keeps no conv (same width)
    assert len(find_layers(tiny(), x)) == 13
    net = nb201.build(nb201.BEST_CIFAR10, C=4, N=1)
    assert len(find_layers(net, torch.randn(1, 3, 32, 32))) == 5 * 3 + 4
    conv_free = build_bench_nb201("|skip_connect~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|none~1|skip_connect~2|")
    assert len(find_layers(conv_free, x)) == 4  # only the residual blocks


def test_cbr_and_sepconv_rules():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.Conv2d(4, 4, 3, padding=1, groups=4), nn.Conv2d(4, 5, 1), nn.BatchNorm2d(5))
    x = torch.randn(2, 3, 6, 6)
    cbr = find_layers(net, x, "cbr")
    assert [l.conv for l in cbr] == [net[0]]
    rcb = find_layers(net, x, "rcb")  # ReLU-Conv-Conv-BN: first conv kept, paired with the BN
    assert len(rcb) == 1 and rcb[0].conv is net[3] and rcb[0].bn is net[5] and rcb[0].relu is net[2]


def test_shapes_weights_and_hooks_removed():
    net = tiny()
    x = torch.randn(2, 1, 8, 8)
    stats = collect(net, x, seed=1)
    layers = find_layers(net, x)
    assert len(stats) == len(layers)
    for s, l in zip(stats, layers):
        assert set(s.tensors) == set(KINDS) and len(KINDS) == 22
        assert torch.equal(s.tensors["T3"], l.conv.weight.detach())
        for k in KINDS:
            fam_shape = {"T1": None, "T3": l.conv.weight.shape}
            if k.startswith("T3"):
                assert s.tensors[k].shape == fam_shape["T3"]
            elif k.startswith(("T2", "T4")):
                assert s.tensors[k].shape[:2] == (2, l.conv.out_channels)
            else:
                assert s.tensors[k].shape[:2] == (2, l.conv.in_channels)
    for m in net.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks


def _explicit(net, inp, layer_idx):
    """Recompute one layer's tensors with plain autograd (no collector code), from the
    definitions in stats_cache.schema: T1G = d loss / d ReLU output * (ReLU input > 0)."""
    layers = find_layers(net, inp)
    l = layers[layer_idx]
    saved = {}
    h0 = l.relu.register_forward_hook(lambda m, i, o: saved.update(T1=i[0], R=o))
    h2 = l.conv.register_forward_hook(lambda m, i, o: saved.__setitem__("T2", o))
    h3 = l.bn.register_forward_hook(lambda m, i, o: saved.__setitem__("T4", o))
    net.zero_grad(set_to_none=True)
    net.train()
    out = net(inp)
    for h in (h0, h2, h3):
        h.remove()
    g_r, g_t1, g2, g4, g3 = torch.autograd.grad(out.sum(), [saved["R"], saved["T1"], saved["T2"], saved["T4"], l.conv.weight])
    return {"T1": saved["T1"].detach(), "T2": saved["T2"].detach(), "T4": saved["T4"].detach(),
            "T1G": g_r * (saved["T1"].detach() > 0), "T1_total": g_t1, "T2G": g2, "T4G": g4, "T3G": g3}


class TwoConsumers(nn.Module):
    """h = BN(conv(x)) feeds two ReLU-Conv-BN edges and a skip connection, so the total
    gradient of h differs from the gradient through either ReLU."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4))
        self.a = nn.Sequential(nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4))
        self.b = nn.Sequential(nn.ReLU(), nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4))
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        h = self.stem(x)
        y = self.a(h) + 2.0 * self.b(h) + h
        return self.head(y.mean((2, 3)))


def test_t1g_is_the_gradient_through_the_relu_not_the_input_tensors_total():
    torch.manual_seed(0)
    net = TwoConsumers()
    d = torch.randn(2, 1, 6, 6)
    stats = collect(net, d, seed=4)
    assert len(stats) == 2
    inputs = make_inputs(d, 4)
    for li in (0, 1):
        ref = _explicit(net, inputs["D"], li)
        got = stats[li].tensors["T1G_D"]
        assert torch.allclose(got, ref["T1G"], atol=1e-6)
        # the two definitions differ here, so the check above can tell them apart
        assert not torch.allclose(got, ref["T1_total"], atol=1e-3)
        for t in ("T1", "T2", "T4", "T2G", "T4G", "T3G"):
            assert torch.allclose(stats[li].tensors[f"{t}_D"], ref[t], atol=1e-6), t


def test_only_the_asked_passes_run_and_they_equal_the_full_collection():
    torch.manual_seed(0)
    net = TwoConsumers()
    d = torch.randn(2, 1, 6, 6)
    full = collect(net, d, seed=2)
    only_n = collect(net, d, seed=2, kinds={k for k in KINDS if k.endswith("_N")} | {"T3"})
    assert set(only_n[0].tensors) == {k for k in KINDS if k.endswith("_N")} | {"T3"}
    for a, b in zip(full, only_n):
        for k, v in b.tensors.items():
            assert torch.equal(v, a.tensors[k]), k
    only_p = collect(net, d, seed=2, kinds={k for k in KINDS if k.endswith("_P")})
    assert set(only_p[0].tensors) == {k for k in KINDS if k[-2:] in ("_D", "_P") and k != "T3"}  # P brings its D
    for a, b in zip(full, only_p):
        for k, v in b.tensors.items():
            assert torch.equal(v, a.tensors[k]), k


def test_collect_restores_eval_mode():
    net = TwoConsumers().eval()
    collect(net, torch.randn(2, 1, 6, 6))
    assert not net.training and not any(m.training for m in net.modules())


def test_gradients_and_perturbed_difference_match_explicit_autograd():
    net = tiny()
    d = torch.randn(1, 1, 8, 8)
    stats = collect(net, d, seed=7)
    inputs = make_inputs(d, 7)
    for li in (0, 5, len(stats) - 1):
        ref_d = _explicit(net, inputs["D"], li)
        ref_n = _explicit(net, inputs["N"], li)
        ref_p = _explicit(net, inputs["P"], li)
        for t in ("T1", "T2", "T4", "T1G", "T2G", "T4G", "T3G"):
            assert torch.allclose(stats[li].tensors[f"{t}_D"], ref_d[t], atol=1e-6)
            assert torch.allclose(stats[li].tensors[f"{t}_N"], ref_n[t], atol=1e-6)
            assert torch.allclose(stats[li].tensors[f"{t}_P"], ref_p[t] - ref_d[t], atol=1e-5)


def test_deterministic_for_a_seed_and_inputs_follow_the_definition():
    d = torch.randn(1, 1, 8, 8)
    a = collect(tiny(), d, seed=3)
    b = collect(tiny(), d, seed=3)
    assert all(torch.equal(x.tensors[k], y.tensors[k]) for x, y in zip(a, b) for k in KINDS)
    inp = make_inputs(d, 3)
    g = torch.Generator().manual_seed(3)
    n = torch.randn(d.shape, generator=g)
    assert torch.equal(inp["N"], n) and torch.equal(inp["P"], d + 0.1 * torch.randn(d.shape, generator=g))


def test_cifar_reader_loads_arrays_and_refuses_code(tmp_path):
    import pickle

    import numpy as np
    import pytest

    from eznas.inputs import load_batch

    good = tmp_path / "good"
    good.mkdir()
    data = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    with open(good / "test_batch", "wb") as f:
        pickle.dump({"data": data, "labels": [1, 2]}, f)
    x = load_batch(f"cifar:{good}", 2)
    assert x.shape == (2, 3, 32, 32)
    bad = tmp_path / "bad"
    bad.mkdir()
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            import os
            return (os.system, (f"touch {marker}",))

    with open(bad / "test_batch", "wb") as f:
        pickle.dump({"data": Evil()}, f)
    with pytest.raises(ValueError, match="test_batch"):
        load_batch(f"cifar:{bad}", 1)
    assert not marker.exists()


def _bn_then_pool(relu_after):
    torch.manual_seed(0)
    tail = [nn.ReLU()] if relu_after else []
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1),
                         nn.BatchNorm2d(4), *tail, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))


def test_a_batchnorm_that_cancels_the_gradient_is_found():
    from stats_cache.collect import cancelled_layers

    x1, x2 = torch.randn(1, 3, 6, 6), torch.randn(2, 3, 6, 6)
    # BatchNorm -> global pooling, sum of the logits: the BN output's gradient is the same at
    # every position and batch element, so the BN subtracts all of it: T2G and T1G upstream are
    # rounding noise (about 1e-9 of the signal), not gradients
    s = collect(_bn_then_pool(False), x1)
    assert cancelled_layers(s, "D") == cancelled_layers(s, "N") == [0]
    assert s[0].tensors["T2G_D"].abs().max() < 1e-6 * s[0].tensors["T4G_D"].abs().max()
    assert cancelled_layers(collect(_bn_then_pool(False), x2), "D") == [0]  # the sum: at any batch size
    # cross-entropy against different labels at batch 2 gives each element its own gradient
    s = collect(_bn_then_pool(False), x2, labels=torch.tensor([0, 1]))
    assert cancelled_layers(s, "D") == [] and s[0].tensors["T2G_D"].abs().max() > 1e-4 * s[0].tensors["T4G_D"].abs().max()
    assert cancelled_layers(collect(_bn_then_pool(True), x1), "D") == []  # a ReLU between: its mask varies
    assert cancelled_layers(collect(tiny(), torch.randn(1, 1, 8, 8)), "D") == []  # NB201-style cells read gradients


def test_a_layer_no_gradient_reaches_is_not_counted_as_cancelled():
    from stats_cache.collect import cancelled_layers

    class Dead(nn.Module):  # the second block's output is never used: its gradients are exact zeros
        def __init__(self):
            super().__init__()
            self.a = nn.Sequential(nn.ReLU(), nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
            self.b = nn.Sequential(nn.ReLU(), nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4))
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))

        def forward(self, x):
            self.b(x)
            return self.head(self.a(x))

    torch.manual_seed(0)
    s = collect(Dead(), torch.randn(1, 3, 6, 6))
    assert len(s) == 2 and cancelled_layers(s, "D") == []
    assert any(float(l.tensors["T4G_D"].abs().max()) == 0 for l in s)  # the unused block: zeros, not noise
