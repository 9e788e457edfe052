"""Parameter and multiply-accumulate (MAC) counts, measured with forward hooks."""

from __future__ import annotations

import torch
from torch import nn


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """MACs for one clip of ``input_shape`` (without batch): conv, linear and attention matmuls.

    Counts the multiply-accumulates of ``Conv1d/Conv2d`` and ``Linear`` layers and of
    ``torch.matmul``-free attention through ``nn.MultiheadAttention`` projections; elementwise
    ops, norms and pooling are left out, as is usual in KWS papers.
    """
    total = 0

    def conv_hook(mod: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        assert isinstance(mod, nn.Conv1d | nn.Conv2d)
        k = 1
        for s in mod.kernel_size:
            k *= s
        total += out.numel() * (mod.in_channels // mod.groups) * k

    def linear_hook(mod: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        assert isinstance(mod, nn.Linear)
        total += out.numel() * mod.in_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv1d | nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total
