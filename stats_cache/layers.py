"""Find ReLU-Conv2d-BatchNorm2d (RCB) or Conv2d-BatchNorm2d-ReLU (CBR) instances from the
model's actual data flow: one traced forward pass with hooks on every ReLU, Conv2d and
BatchNorm2d module records which module's output feeds which module.  No class-name
matching and no symbolic tracing, so any control flow works.

Rules:
- RCB: a Conv2d whose input is a ReLU's output and whose output feeds a BatchNorm2d.
  ReLU-Conv-Conv-BN (separable convolutions): the first convolution is kept, paired with
  the ReLU before it and the BN after the second convolution; the second conv is ignored
  (as the EZNAS paper does).
- CBR: a Conv2d whose output feeds a BatchNorm2d whose output feeds a ReLU.
- ReLUs must be ``nn.ReLU`` modules (functional relu is invisible to module hooks).
"""
from dataclasses import dataclass

import torch
import torch.nn as nn


@dataclass
class Layer:
    relu: nn.Module
    conv: nn.Conv2d
    bn: nn.BatchNorm2d
    name: str


def find_layers(model, example, pattern="rcb"):
    """Return the model's RCB (or CBR) layers in execution order."""
    if pattern not in ("rcb", "cbr"):
        raise ValueError(f"pattern must be 'rcb' or 'cbr', got {pattern!r}")
    names = {m: n for n, m in model.named_modules()}
    produced_by = {}  # id(output tensor) -> module
    consumers = {}  # module -> list of modules consuming its output
    inputs_of = {}  # module -> producer module of its first input (or None)
    order = []
    keep = []  # keep traced tensors alive so ids are not reused

    def hook(mod, inp, out):
        src = produced_by.get(id(inp[0])) if inp and isinstance(inp[0], torch.Tensor) else None
        if mod not in inputs_of:
            order.append(mod)
            inputs_of[mod] = src
        if src is not None:
            consumers.setdefault(src, []).append(mod)
        produced_by[id(out)] = mod
        keep.append(out)

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.ReLU, nn.Conv2d, nn.BatchNorm2d))]
    was = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(example)
    finally:
        for h in handles:
            h.remove()
        model.train(was)

    layers = []
    for m in order:
        if not isinstance(m, nn.Conv2d):
            continue
        nxt = consumers.get(m, [])
        if pattern == "rcb":
            relu = inputs_of.get(m)
            if not isinstance(relu, nn.ReLU):
                continue
            bn = next((c for c in nxt if isinstance(c, nn.BatchNorm2d)), None)
            if bn is None:  # ReLU-Conv-Conv-BN: look through one more conv
                conv2 = next((c for c in nxt if isinstance(c, nn.Conv2d)), None)
                if conv2 is not None:
                    bn = next((c for c in consumers.get(conv2, []) if isinstance(c, nn.BatchNorm2d)), None)
            if bn is not None:
                layers.append(Layer(relu, m, bn, names.get(m, "?")))
        else:
            bn = next((c for c in nxt if isinstance(c, nn.BatchNorm2d)), None)
            relu = next((c for c in consumers.get(bn, []) if isinstance(c, nn.ReLU)), None) if bn else None
            if relu is not None:
                layers.append(Layer(relu, m, bn, names.get(m, "?")))
    return layers
