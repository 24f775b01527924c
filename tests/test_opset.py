import math

import pytest
import torch

import opset
from opset import OpError, apply_single as A, get

T = torch.tensor
X = T([[1.0, -2.0], [0.0, 4.0]])
Y = T([[2.0, -2.0], [1.0, 0.5]])

PAPER_IDS = {
    0: "add", 1: "sub", 2: "mul", 3: "matmul", 4: "lt", 5: "gt", 6: "eq", 7: "log",
    8: "abslog", 9: "abs", 10: "square", 11: "exp", 12: "normalize", 13: "relu",
    14: "sign", 15: "heaviside", 16: "reciprocal", 17: "frobenius_norm", 18: "det",
    19: "logdet", 20: "sym_eig_ratio", 21: "eig_ratio", 22: "normalized_sum",
    23: "l1_norm", 24: "hamming_dist", 25: "kl_div", 26: "cosine_similarity",
    27: "softmax", 28: "sigmoid", 29: "ones_like", 30: "zeros_like",
    31: "greater_than_zero", 32: "less_than_zero", 33: "numel",
}
BINARY = {0, 1, 2, 3, 4, 5, 6, 24, 25, 26}


def close(a, b, tol=1e-5):
    return torch.allclose(torch.as_tensor(a, dtype=torch.float32), torch.as_tensor(b, dtype=torch.float32), atol=tol, rtol=tol, equal_nan=True)


def test_registry_has_the_34_paper_ops():
    assert len(opset.OPS) == 34
    assert {op.id: op.name for op in opset.OPS} == PAPER_IDS
    for op in opset.OPS:
        assert op.arity == (2 if op.id in BINARY else 1)
        assert op.doc and get(f"OP{op.id}") is op and get(op.id) is op and get(op.name) is op


def test_elementwise_binary_hand_values():
    assert close(A("add", X, Y), [[3, -4], [1, 4.5]])
    assert close(A("sub", X, Y), [[-1, 0], [-1, 3.5]])
    assert close(A("mul", X, Y), [[2, 4], [0, 2]])
    assert close(A("lt", X, Y), [[1, 0], [1, 0]])
    assert close(A("gt", X, Y), [[0, 0], [0, 1]])
    assert close(A("eq", X, Y), [[0, 1], [0, 0]])
    assert A("lt", X, Y).dtype == torch.float32


def test_matmul_hand_values_and_shapes():
    assert close(A("matmul", X, Y), [[1 * 2 + -2 * 1, 1 * -2 + -2 * 0.5], [4, 2]])
    assert close(A("matmul", T([1.0, 2.0]), T([3.0, 4.0])), 11.0)
    assert close(A("matmul", T([1.0, 2.0]), X), [1, 6])
    assert close(A("matmul", X, T([1.0, 1.0])), [-1, 4])
    batch = torch.arange(8.0).reshape(2, 2, 2)
    assert close(A("matmul", batch, torch.eye(2)), batch)
    with pytest.raises(OpError):
        A("matmul", torch.ones(2, 3), torch.ones(2, 3))
    with pytest.raises(OpError):
        A("matmul", T(2.0), T(3.0))


def test_log_ops_replace_before_log_without_touching_input():
    x = T([-1.0, 0.0, math.e, 2.0])
    before = x.clone()
    assert close(A("log", x), [0, 0, 1, math.log(2)])
    assert close(A("abslog", x), [0, 0, 1, math.log(2)])
    assert close(A("abslog", T([-math.e])), [1])
    assert torch.equal(x, before)


def test_unary_elementwise_hand_values():
    x = T([-2.0, 0.0, 3.0])
    assert close(A("abs", x), [2, 0, 3])
    assert close(A("square", x), [4, 0, 9])
    assert close(A("exp", x), [math.exp(-2), 1, math.exp(3)])
    assert close(A("relu", x), [0, 0, 3])
    assert close(A("sign", x), [-1, 0, 1])
    assert close(A("heaviside", x), [0, 0, 1])
    assert close(A("reciprocal", T([-2.0, 4.0])), [-0.5, 0.25])
    assert torch.isinf(A("reciprocal", T([0.0]))).all()
    assert close(A("sigmoid", T([0.0])), [0.5])
    assert close(A("greater_than_zero", x), [0, 0, 1])
    assert close(A("less_than_zero", x), [1, 0, 0])
    assert close(A("ones_like", x), [1, 1, 1])
    assert close(A("zeros_like", x), [0, 0, 0])


def test_normalize():
    x = T([1.0, 2.0, 3.0])
    assert close(A("normalize", x), [-1, 0, 1])  # mean 2, unbiased std 1
    assert close(A("normalize", T([5.0, 5.0])), [0, 0])  # std 0 -> NaN -> 0
    assert close(A("normalize", T(7.0)), 0.0)
    big = torch.randn(2, 3, 50, generator=torch.Generator().manual_seed(0))
    assert close(A("normalize", big * 1e20), A("normalize", big))  # squares beyond float32 range
    ref = (big.double() - big.double().mean()) / big.double().std()
    assert torch.allclose(A("normalize", big).double(), ref, atol=1e-6)


def test_reductions_hand_values():
    assert close(A("frobenius_norm", X), math.sqrt(1 + 4 + 0 + 16))
    assert close(A("normalized_sum", X), 3 / 4)
    assert close(A("l1_norm", X), 7 / 4)
    assert close(A("numel", X), 4.0)
    assert close(A("numel", T(3.0)), 1.0)


def test_det_logdet():
    assert close(A("det", X), 1 * 4 - (-2 * 0))
    assert close(A("logdet", X), math.log(4))
    assert close(A("logdet", T([[0.0, 1.0], [1.0, 0.0]])), 0.0)  # det -1: NaN -> 0
    assert close(A("det", torch.stack([X, 2 * X])), [4, 16])  # batched over leading dims
    with pytest.raises(OpError):
        A("det", torch.ones(2, 3))
    with pytest.raises(OpError):
        A("logdet", torch.ones(3))


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_det_and_logdet_of_every_small_size_match_float64_lu(n):
    g = torch.Generator().manual_seed(n)
    m = torch.randn(4, 50, n, n, generator=g)  # sizes <= 3 use cofactors, larger ones LU
    ref = torch.linalg.det(m.double())
    assert torch.allclose(A("det", m).double(), ref, rtol=1e-5, atol=1e-6)
    want = torch.where(ref > 0, ref.abs().log(), torch.zeros_like(ref))  # negative det -> 0
    assert torch.allclose(A("logdet", m).double(), want, rtol=1e-5, atol=1e-5)
    singular = torch.arange(1.0, 1.0 + n * n).reshape(n, n)
    singular[-1] = singular[0] * 2 if n > 1 else 0.0  # a repeated row: det exactly 0
    assert A("det", singular).item() == 0.0
    assert A("logdet", singular).item() == float("-inf")  # log 0, kept (no magic -3.4e38)



def test_eigen_ratios():
    # A A^T = [[5, 11], [11, 25]] for A = [[1,2],[3,4]]: eigenvalues 15 +- sqrt(221)
    a = T([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    expect = (15 + math.sqrt(221)) / (15 - math.sqrt(221))
    assert close(A("sym_eig_ratio", a), expect, 1e-6)
    assert close(A("eig_ratio", a), expect, 1e-6)
    assert close(A("sym_eig_ratio", 3 * torch.eye(3)), 1.0)
    with pytest.raises(OpError):
        A("eig_ratio", T(1.0))


def test_hamming_kl_cosine_softmax():
    assert close(A("hamming_dist", T([1.0, -1.0, 0.0, 2.0]), T([1.0, 1.0, 3.0, -1.0])), 3)
    p = T([[0.5, 0.5], [0.25, 0.75]])
    logq = torch.log(T([[0.5, 0.5], [0.5, 0.5]]))
    expect = (0.25 * math.log(0.5) + 0.75 * math.log(1.5)) / 2
    assert close(A("kl_div", logq, p), expect)
    assert close(A("kl_div", logq, p), torch.nn.functional.kl_div(logq, p, reduction="batchmean"))
    # a negative B makes a layer's sum NaN, whether every layer has one (shortcut) or some do
    from opset import BY_NAME
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(3, 4, 5, generator=g), torch.rand(3, 4, 5, generator=g)
    b_all, b_some = b - 0.5, b.clone()
    b_some[1, 2, 3] = -0.25
    for bb in (b_all, b_some):
        want = torch.stack([torch.nn.functional.kl_div(a[i], bb[i], reduction="batchmean") for i in range(3)])
        assert torch.allclose(BY_NAME["kl_div"](a, bb), want, equal_nan=True)
    assert torch.isnan(BY_NAME["kl_div"](a, b_all)).all() and torch.isnan(BY_NAME["kl_div"](a, b_some)).tolist() == [False, True, False]
    assert close(A("cosine_similarity", T([[1.0, 0.0], [1.0, 1.0]]), T([[0.0, 1.0], [2.0, 2.0]])), 1.0)
    assert close(A("softmax", T([0.0, math.log(3.0)])), [0.25, 0.75])
    assert close(A("softmax", T(5.0)), 1.0)
    inf, nan = float("inf"), float("nan")
    rows = T([[1.0, 2.0, 3.0], [inf, 0.0, 1.0], [-inf, -inf, -inf], [nan, 1.0, 2.0], [1e3, 1e3, -1e3], [-inf, 0.0, 0.0]])
    assert close(A("softmax", rows), torch.softmax(rows, -1))  # same special values as torch's


def test_broadcasting_and_mismatch():
    w = torch.ones(4, 3, 3, 3)  # conv weight
    act = torch.ones(1, 3, 8, 8)  # activation
    assert A("add", X, T(1.0)).shape == (2, 2)
    assert A("mul", T(2.0), act).shape == act.shape
    assert close(A("add", T([1.0, 2.0]), X), [[2, 0], [1, 6]])
    for name in ["add", "sub", "mul", "lt", "gt", "eq", "hamming_dist", "kl_div", "cosine_similarity", "matmul"]:
        with pytest.raises(OpError):
            A(name, w, act)
    # broadcasting never grows past the larger operand: no outer products
    with pytest.raises(OpError, match="larger tensor"):
        A("add", torch.ones(4, 1), torch.ones(1, 4))
    assert A("add", torch.ones(4, 1), torch.ones(4, 4)).shape == (4, 4)


def test_zero_dim_inputs():
    s = T(-3.0)
    for op in opset.OPS:
        if op.name in {"matmul", "det", "logdet", "sym_eig_ratio", "eig_ratio"}:
            with pytest.raises(OpError):
                A(op, *[s] * op.arity)
        else:
            out = A(op, *[s] * op.arity)
            assert out.dim() == 0, op.name


def test_nan_inf_propagate_not_hidden():
    x = T([float("nan"), float("inf"), 1.0])
    assert torch.isnan(A("add", x, x)[0]) and torch.isinf(A("add", x, x)[1])
    assert torch.isnan(A("frobenius_norm", x))
    assert torch.isinf(A("l1_norm", T([float("inf"), 1.0])))
    assert torch.isnan(A("sign", x)[0]) and close(A("sign", x)[1:], [1, 1])
    assert torch.isnan(A("sym_eig_ratio", T([[float("nan"), 1.0], [1.0, 1.0]])))


@pytest.mark.parametrize("op", opset.OPS, ids=lambda o: o.name)
def test_no_op_modifies_its_inputs(op):
    g = torch.Generator().manual_seed(op.id)
    args = [torch.randn(3, 3, generator=g) for _ in range(op.arity)]
    args[0][0, 0] = 0.0
    args[0][1, 1] = -1.0
    before = [a.clone() for a in args]
    try:
        A(op, *args)
    except OpError:
        pass
    for a, b in zip(args, before):
        assert torch.equal(a, b)


@pytest.mark.parametrize("op", opset.OPS, ids=lambda o: o.name)
def test_stacked_equals_one_by_one(op):
    g = torch.Generator().manual_seed(100 + op.id)
    layers = [[torch.randn(2, 3, 3, generator=g, dtype=torch.float64) for _ in range(op.arity)] for _ in range(4)]
    stacked = op(*[torch.stack([l[i] for l in layers]) for i in range(op.arity)])
    for k, l in enumerate(layers):
        assert close(stacked[k], A(op, *l), 1e-9), op.name


def test_wrong_arity_and_unknown():
    with pytest.raises(OpError):
        get("add")(torch.ones(1, 2))
    with pytest.raises(KeyError):
        get("nope")


def test_linalg_ops_survive_non_finite_matrices():
    # LAPACK (MKL sgebal) segfaults on NaN input to eigvals: run in a subprocess so a crash fails the test
    import subprocess
    import sys

    code = (
        "import torch\n"
        "from opset import get\n"
        "bad = torch.tensor([[[float('nan'), 1.0], [1.0, 1.0]], [[1.0, 2.0], [3.0, 4.0]]])\n"
        "for name in ('eig_ratio', 'sym_eig_ratio', 'det', 'logdet'):\n"
        "    out = get(name)(bad)  # a stack of two layers: the first non-finite\n"
        "    assert torch.isnan(out[0]).all(), (name, out)\n"
        "    assert torch.isfinite(out[1]).all(), (name, out)\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr[-500:]
    assert close(A("det", torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[float("inf"), 0.0], [0.0, 1.0]]]))[0], -2.0)


def test_only_invalid_program_errors_become_operror():
    from opset.registry import Op

    def boom(a):
        raise RuntimeError("CUDA out of memory")

    def singular(a):
        raise torch.linalg.LinAlgError("linalg.eigh: The algorithm failed to converge")

    op = Op(99, "boom", 1, boom, "", lambda s: s)
    with pytest.raises(RuntimeError, match="out of memory"):  # not disguised as an invalid program
        op(torch.ones(1, 2))
    with pytest.raises(OpError, match="failed to converge"):
        Op(98, "sing", 1, singular, "", lambda s: s)(torch.ones(1, 2))
