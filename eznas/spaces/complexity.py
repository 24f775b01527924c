"""Parameter and FLOP counts of any torch model."""
import torch
import torch.nn as nn


def count_params(model):
    """Number of parameters, in millions."""
    return sum(p.numel() for p in model.parameters()) / 1e6


def count_flops(model, input_shape=(1, 3, 32, 32)):
    """Multiply-accumulates of Conv2d and Linear layers for one input, in millions
    (the convention NAS-Bench-201 calls FLOPs); the input is made where the model's
    parameters are."""
    total = [0]

    def conv_hook(m, inp, out):
        total[0] += out.numel() // out.shape[0] * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def linear_hook(m, inp, out):
        total[0] += m.in_features * m.out_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            p = next(model.parameters(), None)
            model(torch.zeros(input_shape, device=p.device if p is not None else "cpu"))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total[0] / 1e6
