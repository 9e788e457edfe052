"""Validation during training: mean loss and accuracy on int16 clips held on the device."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kwspot.distributed import DistInfo, all_reduce_sum
from kwspot.features import int16_to_float


@torch.no_grad()
def evaluate_split(net: nn.Module, waves: Tensor, labels: Tensor, batch: int,
                   dist: DistInfo | None = None, *, features: bool = False
                   ) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``net`` (eval mode) on int16 waves (or, with
    ``features``, on precomputed front-end outputs given to ``net`` as they are).

    Under torchrun every rank evaluates its share and the sums are reduced over ranks.
    """
    dist = dist or DistInfo()
    was_training = net.training
    net.eval()
    idx = torch.arange(dist.rank, len(labels), dist.world_size, device=labels.device)
    sums = torch.zeros(3, dtype=torch.float64, device=labels.device)
    for i in range(0, len(idx), batch):
        j = idx[i:i + batch]
        logits = net(waves[j] if features else int16_to_float(waves[j])).float()
        y = labels[j]
        sums[0] += F.cross_entropy(logits, y, reduction="sum").double()
        sums[1] += (logits.argmax(1) == y).sum()
        sums[2] += len(j)
    all_reduce_sum(sums, dist)
    net.train(was_training)
    n = max(1.0, sums[2].item())
    return sums[0].item() / n, sums[1].item() / n
