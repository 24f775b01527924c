"""The 22 statistics recorded per layer, named once for the whole project.

Per input X in D (data), N (Gaussian noise), P (perturbed data, stored as P minus D):
T1_X input activation (into the ReLU), T2_X conv output, T4_X BN output, and gradients
T1G_X, T2G_X, T3G_X (conv weight grad), T4G_X.  T3 (the conv weight) is shared.

Kinds are stored in three families by shape: "in" (shape of T1), "out" (T2 / T4) and
"w" (conv weight).
"""
SCHEMA_VERSION = 2  # 2: one array per family (kinds x all groups flattened)
INPUTS = ("D", "N", "P")

FAMILIES = {
    "in": tuple(f"{t}_{x}" for x in INPUTS for t in ("T1", "T1G")),
    "out": tuple(f"{t}_{x}" for x in INPUTS for t in ("T2", "T4", "T2G", "T4G")),
    "w": ("T3",) + tuple(f"T3G_{x}" for x in INPUTS),
}
KINDS = tuple(k for fam in FAMILIES.values() for k in fam)
FAMILY_OF = {k: fam for fam, ks in FAMILIES.items() for k in ks}
POSITION = {k: i for ks in FAMILIES.values() for i, k in enumerate(ks)}

assert len(KINDS) == 22 and len(set(KINDS)) == 22
