"""The 22 statistics recorded per layer, named and defined once for the whole project.

A layer is a ReLU -> Conv2d -> BatchNorm2d instance (RCB; or Conv2d -> BatchNorm2d -> ReLU,
CBR).  For each input X in D (a data batch), N (``randn(D.shape)``) and P (``D + 0.1 *
randn``, stored as P minus D), one forward pass in train mode and one backward pass of the
loss (sum of the logits, or cross-entropy against labels) give the tensors of
``DEFINITIONS``.  "grad_input" / "grad_output" are the module's, as
``nn.Module.register_full_backward_hook`` would see them: grad_output is the total
gradient of the module's output tensor, grad_input the gradient that flows back *through
the module* to its input.  T1G is therefore the gradient through the ReLU (grad_output x
[input > 0]), as the released EZNAS code records it, not the total gradient of the ReLU's
input tensor, which in a cell also receives the gradients of every other consumer of that
tensor (other edges, skip connections, pooling).

With a collection's ``max_channels`` M (absent: no limit), every tensor keeps only its
first M channels on each channel axis: T1/T1G and T2/T4/T2G/T4G their first M of axis 1
(B, C, H, W), T3/T3G the first M output and M input channels.  The network is computed
whole; only what is recorded is a slice of each wide layer.  It bounds a network's
statistics for wide benchmarks (TransNAS-Bench-101, NAS-Bench-101: up to 2,048 channels),
and leaves every layer of M channels or fewer bit-identical.

Kinds are stored in three families by shape: "in" (shape of T1), "out" (T2 / T4) and
"w" (conv weight).
"""
# 3: T1G is the gradient through the ReLU (its grad_input); schema 2 stored the total
#    gradient of the ReLU's input tensor.  2: one array per family (kinds x all groups).
SCHEMA_VERSION = 3
SCHEMA_CHANGES = {
    3: "T1G_* is now the gradient through the ReLU (the ReLU's grad_input, as the released EZNAS "
       "records it); schema 2 stored the total gradient of the ReLU's input tensor",
    2: "one array per tensor family instead of one per layer group",
}
INPUTS = ("D", "N", "P")

# tensor -> (module, what of it); the same for every input X, each kind being f"{t}_{X}"
DEFINITIONS = {
    "T1": ("relu", "forward input (the activation entering the ReLU)"),
    "T1G": ("relu", "grad_input: gradient through the ReLU = grad_output(ReLU) * (input > 0)"),
    "T2": ("conv", "forward output (conv result, before BN)"),
    "T2G": ("conv", "grad_output: total gradient of the conv output tensor"),
    "T3": ("conv", "weight (shared by D/N/P; recorded once)"),
    "T3G": ("conv", "gradient of the weight"),
    "T4": ("bn", "forward output (BN result, train-mode batch statistics)"),
    "T4G": ("bn", "grad_output: total gradient of the BN output tensor"),
}

FAMILIES = {
    "in": tuple(f"{t}_{x}" for x in INPUTS for t in ("T1", "T1G")),
    "out": tuple(f"{t}_{x}" for x in INPUTS for t in ("T2", "T4", "T2G", "T4G")),
    "w": ("T3",) + tuple(f"T3G_{x}" for x in INPUTS),
}
KINDS = tuple(k for fam in FAMILIES.values() for k in fam)
FAMILY_OF = {k: fam for fam, ks in FAMILIES.items() for k in ks}
POSITION = {k: i for ks in FAMILIES.values() for i, k in enumerate(ks)}


def inputs_needed(kinds):
    """The passes (subset of INPUTS, in order) that produce ``kinds``; P needs D too."""
    need = {k.rsplit("_", 1)[1] for k in kinds if "_" in k}
    if "P" in need or any(k == "T3" for k in kinds):
        need.add("D")
    return tuple(x for x in INPUTS if x in need)


assert len(KINDS) == 22 and len(set(KINDS)) == 22
assert set(DEFINITIONS) == {k.split("_")[0] for k in KINDS}
