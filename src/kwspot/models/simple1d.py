"""Simple1dNet: the seed's raw-waveform network (``speech-commands-results.txt``, part 1).

Ten pairs of ConvBn1d(k=3) + ReLU with channels 1→8→16→32→64→128→256→256→512→512→1024, a
max-pool /2 after every pair, dropout 0.1 before pairs 4–10, global average pooling, then
dropout 0.5 → 1024→512 → dropout 0.5 → 512→256 → classes.

The seed elides the forward pass of pairs 6–10 (``■ ■ ■``); we follow the pattern it shows
for pairs 4 and 5 (dropout 0.1, two ConvBn1d + ReLU, max-pool /2), which the declared layers
(conv6a…conv10b) and the 1024-wide ``linear1`` confirm. Like the seed, convolutions keep their
bias. Input: ``[B, 1, 16000]`` raw waveform in [-1, 1].
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from kwspot.models.layers import ConvBn1d
from kwspot.models.registry import register_model

CHANNELS = (8, 16, 32, 64, 128, 256, 256, 512, 512, 1024)


class Simple1dNet(nn.Module):
    def __init__(self, num_classes: int = 12, in_channels: int = 1,
                 channels: tuple[int, ...] = CHANNELS) -> None:
        super().__init__()
        pairs = []
        c_in = in_channels
        for c in channels:
            pairs.append(nn.ModuleList([ConvBn1d(c_in, c, 3, bias=True),
                                        ConvBn1d(c, c, 3, bias=True)]))
            c_in = c
        self.pairs = nn.ModuleList(pairs)
        self.linear1 = nn.Linear(c_in, 512)
        self.linear2 = nn.Linear(512, 256)
        self.fc = nn.Linear(256, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, 1, T]`` waveform → ``[B, classes]`` logits."""
        for i, (a, b) in enumerate(self.pairs):
            if i >= 3:
                x = F.dropout(x, p=0.10, training=self.training)
            x = F.relu(a(x))
            x = F.relu(b(x))
            x = F.max_pool1d(x, kernel_size=2, stride=2)
        x = F.adaptive_avg_pool1d(x, 1).flatten(1)
        x = F.dropout(x, p=0.50, training=self.training)
        x = F.relu(self.linear1(x))
        x = F.dropout(x, p=0.50, training=self.training)
        x = F.relu(self.linear2(x))
        return self.fc(x)


@register_model("simple1dnet", frontend="raw", paper="kwspot seed: Simple1dNet (raw wave)",
                recommended={"epochs": 24})  # the seed's 3,500 iterations
def simple1dnet(num_classes: int = 12, **kwargs) -> nn.Module:
    return Simple1dNet(num_classes=num_classes, **kwargs)
