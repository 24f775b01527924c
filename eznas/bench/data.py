"""The built-in benchmark's data: scikit-learn's bundled digits (1,797 labelled 8x8
grayscale images, no download) at their native 8x8 size, split with a fixed seed."""
import numpy as np
import torch
import torch.nn.functional as F

SIZE = 8
SPLIT_SEED = 0


def load_digits_tensors(size=SIZE):
    """(x_train, y_train, x_test, y_test): 897 train / 900 test, pixels scaled to [0, 1]
    then standardised with the training mean/std."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    y = torch.tensor(d.target, dtype=torch.long)
    perm = torch.tensor(np.random.default_rng(SPLIT_SEED).permutation(len(y)))
    tr, te = perm[:897], perm[897:]
    mean, std = x[tr].mean(), x[tr].std()
    x = (x - mean) / std
    return x[tr], y[tr], x[te], y[te]


NOISE_STD = 1.0
NOISE_SEED = 123


def load_noisy_digits_tensors(size=SIZE):
    """The same split with Gaussian pixel noise (std NOISE_STD, in standardised units):
    the test images carry fixed noise (seed NOISE_SEED); training adds fresh noise per batch
    (see eznas.bench.train)."""
    x_tr, y_tr, x_te, y_te = load_digits_tensors(size)
    g = torch.Generator().manual_seed(NOISE_SEED)
    return x_tr, y_tr, x_te + NOISE_STD * torch.randn(x_te.shape, generator=g), y_te
