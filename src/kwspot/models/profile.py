"""Parameter and multiply-accumulate (MAC) counts, measured by running the model once."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """MACs for one clip of ``input_shape`` (without batch).

    Every matrix product is counted — convolutions (grouped ones included), linear layers and
    the products inside attention (``Q·Kᵀ`` and ``softmax(·)·V``) — by PyTorch's
    :class:`~torch.utils.flop_counter.FlopCounterMode` (FLOPs / 2); elementwise ops, norms and
    pooling are left out, as is usual in KWS papers.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(1, *input_shape))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops()) // 2
