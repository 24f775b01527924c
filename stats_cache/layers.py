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


class NoLayersError(ValueError):
    """A model has no layer of the pattern (raised by callers that need layers); the
    message, from ``no_layers_message``, says why."""


STEM = "its input is the network's input (a stem convolution)"


def _what(mod, names):
    return "no module (a functional op such as F.relu, torch.cat or +)" if mod is None \
        else f"{type(mod).__name__} {names.get(mod, '?')!r}"


def find_layers(model, example, pattern="rcb", report=None):
    """Return the model's RCB (or CBR) layers in execution order.  ``report``: a dict that
    receives ``layers`` (their names), ``left_out`` [(convolution name, why it is not a
    layer) for every other Conv2d that ran] and ``ran`` {module type: how many ran in the
    forward pass}."""
    if pattern not in ("rcb", "cbr"):
        raise ValueError(f"pattern must be 'rcb' or 'cbr', got {pattern!r}")
    names = {m: n for n, m in model.named_modules()}
    produced_by = {}  # id(output tensor) -> module
    consumers = {}  # module -> list of modules consuming its output
    inputs_of = {}  # module -> producer module of its first input (or None)
    order = []
    keep = []  # keep traced tensors alive so ids are not reused

    fed_by_input = set()

    def hook(mod, inp, out):
        src = produced_by.get(id(inp[0])) if inp and isinstance(inp[0], torch.Tensor) else None
        if mod not in inputs_of:
            order.append(mod)
            inputs_of[mod] = src
            if inp and inp[0] is example:
                fed_by_input.add(mod)
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

    layers, why = [], {}
    second = set()  # second convolutions of ReLU-Conv-Conv-BN blocks
    for m in order:
        if not isinstance(m, nn.Conv2d):
            continue
        nxt = consumers.get(m, [])
        if pattern == "rcb":
            relu = inputs_of.get(m)
            if not isinstance(relu, nn.ReLU):
                why[m] = STEM if m in fed_by_input else f"its input comes from {_what(relu, names)}, not an nn.ReLU module"
                continue
            bn = next((c for c in nxt if isinstance(c, nn.BatchNorm2d)), None)
            conv2 = None
            if bn is None:  # ReLU-Conv-Conv-BN: look through one more conv
                conv2 = next((c for c in nxt if isinstance(c, nn.Conv2d)), None)
                if conv2 is not None:
                    bn = next((c for c in consumers.get(conv2, []) if isinstance(c, nn.BatchNorm2d)), None)
            if bn is not None:
                layers.append(Layer(relu, m, bn, names.get(m, "?")))
                if conv2 is not None:
                    second.add(conv2)
            else:
                why[m] = "its output does not feed a BatchNorm2d (directly or through one more Conv2d)"
        else:
            bn = next((c for c in nxt if isinstance(c, nn.BatchNorm2d)), None)
            relu = next((c for c in consumers.get(bn, []) if isinstance(c, nn.ReLU)), None) if bn else None
            if relu is not None:
                layers.append(Layer(relu, m, bn, names.get(m, "?")))
            else:
                why[m] = ("its output does not feed a BatchNorm2d" if bn is None
                          else "its BatchNorm2d's output does not feed an nn.ReLU module")
    for m in second:
        why[m] = "second convolution of a ReLU-Conv-Conv-BN block (the first one is the layer)"
    if report is not None:
        report["layers"] = [layer.name for layer in layers]
        report["left_out"] = [(names.get(m, "?"), why[m]) for m in order if m in why]
        report["ran"] = {t.__name__: sum(isinstance(m, t) for m in order) for t in (nn.Conv2d, nn.ReLU, nn.BatchNorm2d)}
    return layers  # may be empty: an NB201 cell of only skip / pooling / none edges has no layer


def no_layers_message(model, pattern, report):
    """Why ``model`` has no layer of ``pattern``, from a ``find_layers`` report."""
    ran, left_out = report.get("ran", {}), report.get("left_out", [])
    convs, relus = ran.get("Conv2d", 0), ran.get("ReLU", 0)
    msg = (f"no {'ReLU-Conv2d-BatchNorm2d' if pattern == 'rcb' else 'Conv2d-BatchNorm2d-ReLU'} layers found in "
           f"{type(model).__name__} ({convs} Conv2d and {relus} nn.ReLU modules ran in the forward pass)")
    if convs and not relus:
        msg += ("; its ReLUs are functional (F.relu / torch.relu), which module hooks cannot see: "
                "use nn.ReLU modules")
    elif convs and pattern == "rcb":
        msg += "; if the model is Conv-BN-ReLU, use pattern 'cbr'"
    if left_out:
        msg += "; " + "; ".join(f"{n}: {w}" for n, w in left_out[:5]) + (" ..." if len(left_out) > 5 else "")
    return msg
