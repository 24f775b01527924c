"""The built-in benchmark's training recipes (fixed and documented: each built-in space's ``recipe`` in eznas/spaces/bench.py):
SGD momentum 0.9, nesterov, cosine decay to 0, weight decay 5e-4, augmentation = random
translation by up to 1 pixel (zero padding) plus, for the noisy task, fresh Gaussian pixel
noise; cross-entropy loss; the seed fixes init, batch order, augmentation and noise.
Single-threaded."""
import time

import torch
import torch.nn.functional as F

EPOCHS = 12
BATCH = 64
LR = 0.05
WD = 5e-4
OPTIM = "sgd"


def _shift(x, g, pad=1):
    """Random translation of each image by up to ``pad`` pixels (vectorised gather)."""
    n, c, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))
    dx = torch.randint(0, 2 * pad + 1, (n, 1, 1, 1), generator=g)
    dy = torch.randint(0, 2 * pad + 1, (n, 1, 1, 1), generator=g)
    rows = (torch.arange(h).view(1, 1, h, 1) + dy).expand(n, c, h, w + 2 * pad)
    xp = xp.gather(2, rows)
    cols = (torch.arange(w).view(1, 1, 1, w) + dx).expand(n, c, h, w)
    return xp.gather(3, cols)




def train_and_test(build, data, seed, epochs=None, batch=None, lr=None, optim=None, noise=0.0):
    """Build with ``build()`` under ``seed``, train, return (test accuracy %, seconds)."""
    epochs = EPOCHS if epochs is None else epochs
    batch = BATCH if batch is None else batch
    lr = LR if lr is None else lr
    optim = OPTIM if optim is None else optim
    x_tr, y_tr, x_te, y_te = data
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    net = build()
    g = torch.Generator().manual_seed(seed)
    if optim == "adamw":
        opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=WD)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=WD)
    steps = epochs * ((len(y_tr) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    net.train()
    for _ in range(epochs):
        perm = torch.randperm(len(y_tr), generator=g)
        for k in range(0, len(y_tr), batch):
            idx = perm[k:k + batch]
            xb = _shift(x_tr[idx], g)
            if noise:
                xb = xb + noise * torch.randn(xb.shape, generator=g)
            loss = F.cross_entropy(net(xb), y_tr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    with torch.no_grad():
        correct = sum((net(x_te[k:k + 300]).argmax(1) == y_te[k:k + 300]).sum().item() for k in range(0, len(y_te), 300))
    return 100.0 * correct / len(y_te), time.perf_counter() - t0
