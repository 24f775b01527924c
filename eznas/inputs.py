"""Sources of the data batch D, by name (a collection or a score names its data; the
collector itself takes a batch tensor).

- ``photos``: random crops of scikit-learn's two bundled sample photographs (offline);
- ``digits`` / ``digits_noisy``: test images of the built-in benchmark's tasks (1 channel, 8x8);
- ``folder:PATH``: every PNG/JPEG in a folder (e.g. 32x32 CIFAR images), sorted by name;
- ``cifar:PATH``: a CIFAR-10/100 python-format folder (reads ``test_batch`` or ``test``).
3-channel images are scaled to [0, 1] and normalised with the CIFAR-10 mean and std.
"""
import os
import pickle

import numpy as np
import torch

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


def _norm(x):
    m = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)
    s = torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
    return (x - m) / s


def _photos(n, size, seed):
    from sklearn.datasets import load_sample_images

    imgs = [torch.tensor(np.asarray(im), dtype=torch.float32).permute(2, 0, 1) / 255.0 for im in load_sample_images().images]
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        im = imgs[int(torch.randint(len(imgs), (1,), generator=g))]
        # crop a patch 4x the size, then downsample: natural-image statistics (less than 4x
        # where the 427 x 640 photos are too small for it, from 107 px up)
        f = min(4, (min(im.shape[1:]) - 1) // size)
        if f < 1:
            raise ValueError(f"--data photos: the bundled photos are {min(im.shape[1:])} px high, {size} px asked")
        big = size * f
        y = int(torch.randint(im.shape[1] - big, (1,), generator=g))
        x = int(torch.randint(im.shape[2] - big, (1,), generator=g))
        out.append(torch.nn.functional.avg_pool2d(im[:, y:y + big, x:x + big].unsqueeze(0), f))
    return _norm(torch.cat(out))


def _folder(path, n, size):
    from PIL import Image

    if not os.path.isdir(path):
        raise FileNotFoundError(f"--data folder not found: {path}")
    files = sorted(f for f in os.listdir(path) if f.lower().endswith((".png", ".jpg", ".jpeg")))
    if len(files) < n:
        raise ValueError(f"--data folder {path} has {len(files)} images, {n} needed")
    ims = []
    for f in files[:n]:
        try:
            with Image.open(os.path.join(path, f)) as im:
                ims.append(np.asarray(im.convert("RGB").resize((size, size))))
        except Exception as e:  # truncated, not an image, a decompression bomb: PIL's errors name no file
            raise ValueError(f"--data folder:{path}: {os.path.join(path, f)} is not a readable image "
                             f"({type(e).__name__}: {e})") from None
    return _norm(torch.tensor(np.stack(ims), dtype=torch.float32).permute(0, 3, 1, 2) / 255.0)


def _latin1(text, encoding):
    """``_codecs.encode`` as a Python 3 pickle of protocol 2 uses it, and only so: a str and
    'latin1' -> the bytes they spell (anything else is refused, never called)."""
    if not isinstance(text, str) or encoding != "latin1":
        raise pickle.UnpicklingError("refused _codecs.encode with arguments other than (str, 'latin1')")
    return text.encode("latin1")


class _ArraysOnly(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only: a crafted file cannot name any other
    callable, so it cannot run code (CIFAR's python format holds a dict of lists and arrays).
    ``_codecs.encode``, with which Python 3 writes bytes in protocol 2 (a batch loaded and
    pickled again), is replaced by ``_latin1``: str -> bytes with the latin1 codec only."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        if (module, name) == ("_codecs", "encode"):
            return _latin1
        raise pickle.UnpicklingError(f"refused to load {module}.{name}: only containers and numpy arrays are read")


def _cifar(path, n):
    for name in ("test_batch", "test"):
        f = os.path.join(path, name)
        if os.path.exists(f):
            where = f"--data cifar:{path}: {f}"
            with open(f, "rb") as fh:
                try:
                    d = _ArraysOnly(fh, encoding="latin1").load()
                except Exception as e:  # only allowed callables run: any error means not a batch
                    raise ValueError(f"{where} is not a CIFAR python-format batch ({type(e).__name__}: {e})") from None
            key = next((k for k in ("data", b"data") if isinstance(d, dict) and k in d), None)
            if key is None:
                raise ValueError(f"{where} holds no 'data' array (a {type(d).__name__}, not a CIFAR batch)")
            data = d[key]
            if not isinstance(data, np.ndarray) or data.dtype.kind not in "iuf" \
                    or data.shape[1:] not in ((3072,), (3, 32, 32)):
                what = f"a {data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else \
                    f"a {type(data).__name__}"
                raise ValueError(f"{where}: field 'data' is {what}, not CIFAR images (numbers, one row of "
                                 f"3072 = 3x32x32 per image)")
            if len(data) < n:
                raise ValueError(f"{where} holds {len(data)} image{'s' * (len(data) != 1)}, and a batch of {n} "
                                 f"was asked (the batch size)")
            x = np.asarray(data[:n], dtype=np.float32).reshape(-1, 3, 32, 32) / 255.0
            if not np.isfinite(x).all():
                raise ValueError(f"{where}: field 'data' holds non-finite pixel values (NaN or infinite) in the "
                                 f"{n} images read")
            return _norm(torch.tensor(x))
    raise FileNotFoundError(f"--data cifar:{path}: no 'test_batch' (CIFAR-10) or 'test' (CIFAR-100) file there")


def load_batch(source, n=1, size=32, seed=0):
    """The batch D of ``n`` images from ``source`` (see module doc)."""
    if source == "photos":
        return _photos(n, size, seed)
    if source in ("digits", "digits_noisy"):
        from eznas.bench.data import load_digits_tensors, load_noisy_digits_tensors

        x = (load_noisy_digits_tensors() if source == "digits_noisy" else load_digits_tensors())[2]
        return x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]]
    kind, _, path = source.partition(":")
    if kind == "folder" and path:
        return _folder(path, n, size)
    if kind == "cifar" and path:
        return _cifar(path, n)
    raise ValueError(f"unknown data source {source!r}: use photos, digits, folder:PATH or cifar:PATH")
