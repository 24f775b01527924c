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
