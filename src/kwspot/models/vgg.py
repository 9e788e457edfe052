"""VggNet1: the seed's MFCC network (``speech-commands-results.txt``, part 3).

Three pairs of ConvBn2d(3×3) + ReLU with 8/16/32 channels, a 2×2 max-pool after each pair,
dropout 0.2, then 32·5·12 → 512 → 256 → classes (each hidden layer with ReLU and dropout 0.2).
The flatten width is computed from ``in_shape`` (1×40×101 gives the seed's 32·5·12). Like the
seed, convolutions keep their bias. Input: ``[B, 1, 40, 101]`` MFCC.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from kwspot.models.layers import ConvBn2d
from kwspot.models.registry import register_model


class VggNet1(nn.Module):
    def __init__(self, num_classes: int = 12, in_shape: tuple[int, int, int] = (1, 40, 101),
                 widths: tuple[int, int, int] = (8, 16, 32)) -> None:
        super().__init__()
        convs = []
        c_in = in_shape[0]
        for w in widths:
            convs += [ConvBn2d(c_in, w, 3, bias=True), ConvBn2d(w, w, 3, bias=True)]
            c_in = w
        self.convs = nn.ModuleList(convs)
        h, t = in_shape[1], in_shape[2]
        for _ in widths:
            h, t = h // 2, t // 2
        self.linear1 = nn.Linear(c_in * h * t, 512)
        self.linear2 = nn.Linear(512, 256)
        self.fc = nn.Linear(256, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, 1, F, T]`` MFCC → ``[B, classes]`` logits."""
        for i in range(0, len(self.convs), 2):
            if i > 0:
                x = F.dropout(x, p=0.2, training=self.training)
            x = F.relu(self.convs[i](x))
            x = F.relu(self.convs[i + 1](x))
            x = F.max_pool2d(x, kernel_size=2, stride=2)
        x = F.dropout(x, p=0.2, training=self.training).flatten(1)
        x = F.relu(self.linear1(x))
        x = F.dropout(x, p=0.2, training=self.training)
        x = F.relu(self.linear2(x))
        return self.fc(x)


@register_model("vggnet1", frontend="mfcc", paper="kwspot seed: VggNet1 (MFCC)",
                recommended={"epochs": 575})  # the seed's 83,000 iterations
def vggnet1(num_classes: int = 12, **kwargs) -> nn.Module:
    return VggNet1(num_classes=num_classes, **kwargs)
