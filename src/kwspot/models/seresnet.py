"""SeResNet3: the seed's log-mel network (``speech-commands-results.txt``, part 2).

Five ConvBn2d stems (16/32/64/128/256 channels) with squeeze-excitation ResBlocks after the
first four (1, 2, 2, 2 of them), max-pool 2×2 after stages 1–3, dropout 0.1 then 0.2, global
average pool, ReLU(256→256), dropout 0.2, 256→classes. As in the seed, the SE bottleneck has a
fixed width of 16 channels (``reduction=16`` is a width, not a ratio) and convolutions keep
their bias. Input: ``[B, 1, 40, 101]`` log mel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kwspot.models.layers import ConvBn2d
from kwspot.models.registry import register_model


class SeScale(nn.Module):
    """Squeeze-excitation gate: global pool → 1×1 conv → ReLU → 1×1 conv → sigmoid."""

    def __init__(self, channels: int, hidden: int = 16) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, hidden, kernel_size=1)
        self.fc2 = nn.Conv2d(hidden, channels, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        z = F.adaptive_avg_pool2d(x, 1)
        return torch.sigmoid(self.fc2(F.relu(self.fc1(z))))


class ResBlock(nn.Module):
    """Two 3×3 ConvBn2d with an SE gate on the residual branch, then ReLU."""

    def __init__(self, channels: int, hidden: int = 16) -> None:
        super().__init__()
        self.conv_bn1 = ConvBn2d(channels, channels, 3, bias=True)
        self.conv_bn2 = ConvBn2d(channels, channels, 3, bias=True)
        self.scale = SeScale(channels, hidden)

    def forward(self, x: Tensor) -> Tensor:
        z = self.conv_bn2(F.relu(self.conv_bn1(x)))
        return F.relu(self.scale(z) * z + x)


class SeResNet3(nn.Module):
    def __init__(self, num_classes: int = 12, in_channels: int = 1,
                 widths: tuple[int, ...] = (16, 32, 64, 128, 256),
                 blocks: tuple[int, ...] = (1, 2, 2, 2)) -> None:
        super().__init__()
        stems, stages = [], []
        c_in = in_channels
        for i, w in enumerate(widths):
            stems.append(ConvBn2d(c_in, w, 3, bias=True))
            n = blocks[i] if i < len(blocks) else 0
            stages.append(nn.Sequential(*[ResBlock(w) for _ in range(n)]))
            c_in = w
        self.stems = nn.ModuleList(stems)
        self.stages = nn.ModuleList(stages)
        self.linear = nn.Linear(c_in, 256)
        self.fc = nn.Linear(256, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, 1, F, T]`` features → ``[B, classes]`` logits."""
        for i, (stem, stage) in enumerate(zip(self.stems, self.stages, strict=True)):
            if i > 0:
                x = F.dropout(x, p=0.1 if i == 1 else 0.2, training=self.training)
            x = stage(F.relu(stem(x)))
            if i < 3:
                x = F.max_pool2d(x, kernel_size=2, stride=2)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        x = F.relu(self.linear(x))
        x = F.dropout(x, p=0.2, training=self.training)
        return self.fc(x)


@register_model("seresnet3", frontend="mel", paper="kwspot seed: SeResNet3 (log mel)",
                recommended={"epochs": 145})  # the seed's 21,000 iterations at batch 256
def seresnet3(num_classes: int = 12, **kwargs) -> nn.Module:
    return SeResNet3(num_classes=num_classes, **kwargs)
