"""Score any PyTorch model with zero-cost proxies: the engine's baselines, program strings,
a run's programs, or functions exported into a programs file.

    import eznas
    eznas.measures(model, (x, y), ["eznas_a", "synflow", "layer_sum(l1_norm(T1G_D))"])
    best = eznas.load_programs("runs/<run>")[0]     # program_0, ranked on validation networks
    best(model, x)                                  # its score (larger = predicted better)

The model is never changed: every proxy runs on a deep copy, so its parameters, buffers
(BatchNorm running statistics), gradients and train/eval mode are exactly as they were.
Proxies score the model itself, whatever the caller set on it: on the copy every
floating-point parameter requires grad (a frozen layer scores as an unfrozen one) and
the modules' own forward and backward hooks are removed (a hook registered on the model
does not run while it is scored; torch's reparametrizations, weight_norm, spectral_norm
and pruning, compute the model's weights and stay; global hooks,
``torch.nn.modules.module.register_module_*``, are not the model's and still run).
"""
import copy
import logging
import math
import os
from dataclasses import dataclass, field

import torch

log = logging.getLogger("eznas.proxies")


@dataclass(frozen=True)
class Program:
    """A discovered program: its string (parsed, never executed), the sign fixed at export
    (larger = better), how a layer's tensor becomes a number, and what the search measured.
    Calling it scores a model: ``program(model, inputs)``."""
    text: str
    name: str = ""
    sign: float = 1.0
    to_scalar: str = "mean"
    validation_min_tau: float = None
    validation_taus: dict = field(default_factory=dict, compare=False)

    @property
    def formula(self):
        from eznas.program import infix, parse

        return infix(parse(self.text))

    @property
    def aggregate(self):
        from eznas.program import parse, split_aggregate

        return split_aggregate(parse(self.text))[1]

    def __call__(self, model, inputs, **kw):
        return measures(model, inputs, [self], **kw)[self.label]

    @property
    def label(self):
        return self.name or self.text

    def __str__(self):
        return f"{self.label}: {self.text}"


def load_programs(run_dir):
    """A run's exported programs, best first: the list its programs.py exports
    (``program_0`` ... ``program_4``, the same programs, names and order), read from
    hall_of_fame.json and config.json (data only: nothing in the run directory is
    executed).  The hall of fame also keeps the programs ranked below those, for the
    record, with no function name (``"function": null``); they are not exported, and not
    loaded."""
    from eznas.evolve.rundir import read_json

    path = os.path.join(run_dir, "hall_of_fame.json")
    hof = read_json(path, "hall of fame")
    cfg = read_json(os.path.join(run_dir, "config.json"), "run config")
    rows = hof.get("programs")
    if not isinstance(rows, list) or not rows:
        raise ValueError(f"{path}: no programs (the run has not finished)")
    to_scalar = cfg.get("to_scalar", "mean")
    if to_scalar not in ("mean", "l2"):
        raise ValueError(f"{os.path.join(run_dir, 'config.json')}: field 'to_scalar' must be 'mean' or 'l2', "
                         f"got {str(to_scalar)[:40]!r}")
    from eznas.program import ProgramError, parse

    out = []
    for k, r in enumerate(rows):
        if isinstance(r, dict) and "function" in r and not r["function"]:
            continue  # ranked below the exported ones: not in programs.py
        try:
            parse(r["program"])
        except (KeyError, TypeError, ProgramError) as e:
            raise ValueError(f"{path}: program {k} unreadable ({e})") from None
        sign, name = r.get("sign", 1.0), r.get("function") or f"program_{k}"
        if isinstance(sign, bool) or not isinstance(sign, (int, float)) or not _finite(sign) or sign == 0:
            raise ValueError(f"{path}: program {k}: field 'sign' must be a finite number other than 0 (the export "
                             f"writes +1 or -1), got {type(sign).__name__} {str(sign)[:40]}")
        if not isinstance(name, str):
            raise ValueError(f"{path}: program {k}: field 'function' must be a name, got {type(name).__name__}")
        out.append(Program(r["program"], name, float(sign), to_scalar, r.get("validation_min_tau"),
                           r.get("validation_taus") or {}))
    return out


def _finite(v):
    try:
        return math.isfinite(v)
    except OverflowError:  # an integer too large for a float
        return False


def split_batch(inputs):
    """(x, y or None) from a tensor, an (x, y) pair or a DataLoader / iterable of batches
    (its first batch)."""
    if isinstance(inputs, (str, bytes, bytearray)):  # iterable, and a 1-character str iterates to itself
        raise TypeError(f"inputs must be a tensor, an (x, y) batch or a DataLoader, got {type(inputs).__name__}")
    if isinstance(inputs, torch.Tensor):
        return inputs, None
    if isinstance(inputs, (tuple, list)):
        if len(inputs) >= 1 and isinstance(inputs[0], torch.Tensor):
            y = inputs[1] if len(inputs) > 1 and isinstance(inputs[1], torch.Tensor) else None
            return inputs[0], y
        raise ValueError("inputs: a list or tuple must start with the input tensor, e.g. (x, y)")
    if hasattr(inputs, "__iter__"):
        try:
            first = next(iter(inputs))
        except StopIteration:
            raise ValueError("inputs: the DataLoader / iterable is empty") from None
        return split_batch(first)
    raise ValueError(f"inputs must be a tensor, an (x, y) batch or a DataLoader, got {type(inputs).__name__}")


def _examples(inputs):
    """split_batch, refusing a batch that holds no example (a proxy would score nothing)."""
    x, y = split_batch(inputs)
    if x.dim() == 0 or len(x) == 0:
        raise ValueError(f"inputs hold no example (a tensor of shape {tuple(x.shape)}): pass a batch of 1 or more")
    return x, y


def _keep_hook(hook):
    """Whether a module hook is one of torch's reparametrizations (weight_norm, spectral_norm,
    pruning), which compute the weight the module uses: part of the model, kept on the copy."""
    from torch.nn.utils.prune import BasePruningMethod
    from torch.nn.utils.spectral_norm import SpectralNorm
    from torch.nn.utils.weight_norm import WeightNorm

    return isinstance(hook, (WeightNorm, SpectralNorm, BasePruningMethod))


def _copy(model):
    """The copy of ``model`` proxies run on: every floating-point parameter requires grad
    (proxies see the same model whatever the caller froze) and no module keeps the
    caller's forward or backward hooks (deep copies keep them; torch's reparametrizations,
    ``_keep_hook``, stay)."""
    try:
        m = copy.deepcopy(model)
    except Exception as e:  # modules holding locks, open files, ...: say why
        raise ValueError(f"measures works on a copy of the model so that yours is left as it was, and "
                         f"{type(model).__name__} cannot be deep-copied ({type(e).__name__}: {e})") from None
    for p in m.parameters():
        if p.is_floating_point() or p.is_complex():
            p.requires_grad_(True)
    for mod in m.modules():
        for attr, flags in (("_forward_hooks", ("_forward_hooks_with_kwargs", "_forward_hooks_always_called")),
                            ("_forward_pre_hooks", ("_forward_pre_hooks_with_kwargs",))):
            hooks = getattr(mod, attr, None) or {}
            for key in [k for k, h in hooks.items() if not _keep_hook(h)]:
                del hooks[key]
                for flag in flags:
                    getattr(mod, flag, {}).pop(key, None)
        for name in ("_backward_hooks", "_backward_pre_hooks"):
            if getattr(mod, name, None):
                getattr(mod, name).clear()
        if getattr(mod, "_is_full_backward_hook", None) is not None:
            mod._is_full_backward_hook = None
    return m


def _kind(item):
    """('baseline' | 'program' | 'exported', label, payload) of one requested proxy."""
    from eznas.baselines import BASELINES, PROGRAM_BASELINES
    from eznas.program import ProgramError, parse, shown

    if isinstance(item, Program):
        return "program", item.label, item
    if isinstance(item, str):
        if item in PROGRAM_BASELINES:
            return "program", item, Program(PROGRAM_BASELINES[item], item)
        if item in BASELINES:
            return "baseline", item, BASELINES[item]
        try:
            parse(item)
        except ProgramError as e:
            raise ValueError(f"{shown(item)} is neither a baseline ({', '.join(BASELINES)}) nor a program: "
                             f"{e.reason}") from None
        return "program", item, Program(item)
    if callable(item):  # a function of an exported programs file: program_k(layer) -> float
        return "exported", getattr(item, "__name__", repr(item)), item
    raise ValueError(f"cannot score with {item!r}: give a baseline name, a program string, a Program or an exported function")


def measures(model, inputs, names, device=None, loss_fn=None, seed=0, pattern="rcb", max_channels=None):
    """{name: score} of ``model`` for each proxy in ``names`` (one or a list): baseline
    names (eznas.baselines.BASELINES), program strings, ``Program`` objects (load_programs)
    or functions of an exported programs file.  ``inputs``: a tensor, an (x, y) batch or a
    DataLoader (its first batch).  ``device``: where to compute (default: the model's).
    ``loss_fn(output, labels)``: the loss of snip / grasp / fisher / grad_norm (default
    cross-entropy; those need labels).  Programs see the statistics of ``pattern`` layers
    ('rcb' ReLU-Conv-BN, 'cbr' Conv-BN-ReLU); which convolutions were left out, and why, is
    logged (logger "eznas.proxies"; a warning unless only a stem convolution was).
    ``max_channels``: programs read each layer's first that many channels, as a store of a
    space with that limit records them (TransNAS-Bench-101: 64; stats_cache.schema).  The
    model itself is never changed."""
    from eznas.baselines import LOSS_BASED, check_batch, program_scores
    from stats_cache.collect import collect
    from stats_cache.schema import FAMILY_OF

    items = [names] if isinstance(names, (str, Program)) or callable(names) else list(names)
    x, y = _examples(inputs)
    if device is None:
        p = next(model.parameters(), None)
        device = p.device if p is not None else torch.device("cpu")
    x = x.to(device)
    y = y.to(device) if y is not None else None
    kinds = [_kind(i) for i in items]
    out = {}
    for kind, label, fn in kinds:
        if kind != "baseline":
            continue
        check_batch(label, len(x))
        if label in LOSS_BASED:
            if y is None:
                raise ValueError(f"{label} needs labels: pass inputs as (x, y)")
            out[label] = float(fn(_copy(model).to(device), x, y, loss_fn=loss_fn))
        else:
            out[label] = float(fn(_copy(model).to(device), x, y))
    progs = {label: p for kind, label, p in kinds if kind == "program"}
    exported = {label: f for kind, label, f in kinds if kind == "exported"}
    told = []  # the layer report is logged once, from the first collection
    for how in sorted({p.to_scalar for p in progs.values()}):
        batch = {label: p for label, p in progs.items() if p.to_scalar == how}
        report = {}
        got = program_scores(_copy(model).to(device), x, {k: (p.text, "mean") for k, p in batch.items()}, seed, how,
                             pattern, report, max_channels)
        _check_layers(model, pattern, report, told)
        out.update({k: p.sign * got[k] for k, p in batch.items()})
    if exported:
        report = {}
        # an exported function reads its kinds as literal keys (L["T1G_N"]): collect only those
        # (the passes they need, as for a program string); a function that reads others is
        # given all 22
        read = {c for f in exported.values() for c in getattr(getattr(f, "__code__", None), "co_consts", ())
                if isinstance(c, str) and c in FAMILY_OF} or None
        layers = collect(_copy(model).to(device), x, seed=seed, pattern=pattern, report=report, max_channels=max_channels,
                         kinds=read)
        _check_layers(model, pattern, report, told)
        try:
            totals = {label: sum(float(f(s.tensors)) for s in layers) for label, f in exported.items()}
        except KeyError:  # a kind it reads by a computed key
            layers = collect(_copy(model).to(device), x, seed=seed, pattern=pattern, max_channels=max_channels)
            totals = {label: sum(float(f(s.tensors)) for s in layers) for label, f in exported.items()}
        for label, f in exported.items():
            total = totals[label]
            out[label] = total if getattr(f, "aggregate", "mean") == "sum" else total / len(layers)
            if getattr(f, "times", "") == "flops":
                from eznas.spaces.complexity import count_flops

                out[label] *= count_flops(_copy(model).to(device), (1,) + tuple(x.shape[1:]))
    return {label: out[label] for _, label, _ in kinds}


def _check_layers(model, pattern, report, told):
    """Log which layers a collection found and which convolutions it left out (a warning
    unless only a stem convolution was; once per call of ``measures``), and raise
    NoLayersError, saying why, when it found none."""
    from stats_cache.layers import STEM, NoLayersError, no_layers_message

    if not told:
        told.append(True)
        left_out = report["left_out"]
        # a stem convolution is left out by design; any other is worth a warning (a
        # functional ReLU, a missing BatchNorm): the programs then read part of the network
        unexpected = [(n, w) for n, w in left_out if w != STEM]
        (log.warning if unexpected else log.info)(
            f"{type(model).__name__}: {len(report['layers'])} {pattern.upper()} layers from {report['ran']['Conv2d']} Conv2d"
            + (f"; left out {len(left_out)}: " + "; ".join(f"{n} ({w})" for n, w in left_out) if left_out else ""))
    if not report["layers"]:
        raise NoLayersError(no_layers_message(model, pattern, report))


def find_layers(model, inputs, pattern="rcb"):
    """(names of the layers programs read, [(convolution, why it is left out)]) of a model
    (traced on a copy)."""
    from stats_cache.layers import find_layers as find

    x = _examples(inputs)[0]
    m = _copy(model)
    p = next(m.parameters(), None)
    report = {}
    find(m, x[:1].to(p.device if p is not None else "cpu"), pattern, report)
    return report["layers"], report["left_out"]
