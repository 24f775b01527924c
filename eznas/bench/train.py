"""The built-in benchmark's training recipe (fixed and documented):
SGD momentum 0.9, nesterov, lr 0.05 with cosine decay to 0, weight decay 5e-4, batch 64,
EPOCHS epochs, augmentation = random translation by up to 1 pixel (zero padding),
cross-entropy loss; seed fixes init, batch order and augmentation.  Single-threaded."""
import time

import torch
import torch.nn.functional as F

EPOCHS = 12
BATCH = 64
LR = 0.05
WD = 5e-4


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


def train_and_test(build, data, seed, epochs=EPOCHS):
    """Build with ``build()`` under ``seed``, train, return (test accuracy %, seconds)."""
    x_tr, y_tr, x_te, y_te = data
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    net = build()
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=0.9, nesterov=True, weight_decay=WD)
    steps = epochs * ((len(y_tr) + BATCH - 1) // BATCH)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    net.train()
    for _ in range(epochs):
        perm = torch.randperm(len(y_tr), generator=g)
        for k in range(0, len(y_tr), BATCH):
            idx = perm[k:k + BATCH]
            loss = F.cross_entropy(net(_shift(x_tr[idx], g)), y_tr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    with torch.no_grad():
        correct = sum((net(x_te[k:k + 300]).argmax(1) == y_te[k:k + 300]).sum().item() for k in range(0, len(y_te), 300))
    return 100.0 * correct / len(y_te), time.perf_counter() - t0
