"""BC-ResNet: Kim, Chang, Lee, Sung, "Broadcasted Residual Learning for Efficient Keyword
Spotting", Interspeech 2021 (arXiv:2106.04140).

A BC-ResBlock splits a residual block into a 2-D frequency part and a 1-D temporal part::

    f2(x) = SubSpectralNorm(FreqDepthwiseConv3x1(x))          # [B, C, F, T]
    f1(z) = Dropout(Pointwise(Swish(BN(TemporalDepthwiseConv1x3(z)))))   # z = [B, C, 1, T]
    y     = ReLU(x + f2(x) + broadcast(f1(avgpool_F(f2(x)))))

A *transition* block (first block of a stage, where the width changes) starts ``f2`` with a
1×1 conv + BN + ReLU and drops the identity shortcut. The network (paper Table 1, base width
``c = 8·τ``)::

    conv 5×5, stride (2,1), 2c ch   + BN + ReLU          40×T → 20×T
    stage 1: 2 blocks,   c ch,      dilation 1           20×T
    stage 2: 2 blocks, 1.5c ch, stride (2,1), dilation 2 10×T
    stage 3: 4 blocks,   2c ch, stride (2,1), dilation 4  5×T
    stage 4: 4 blocks, 2.5c ch,               dilation 8  5×T
    depthwise conv 5×5 (no frequency padding) → 1×1 conv 4c ch + BN + ReLU
    global average pool → 1×1 conv → classes

SubSpectralNorm (Chang et al., "Subspectral Normalization for Neural Audio Data Processing",
ICASSP 2021) splits the frequency axis into ``S = 5`` sub-bands and batch-normalises each
(channel, sub-band) pair separately.

Variants: ``bcresnet{1,2,3,6,8}`` for τ = 1, 2, 3, 6, 8 (widths rounded down like the
authors' code, ``int(1.5·c)``). Input: ``[B, 1, 40, T]`` log mel with 30 ms windows / 10 ms
hop (``win_length=480``, ``n_fft=512`` as in the authors' code), any ``T``.

Deviations from the paper:

* None in the architecture; the layer order, bias-free convolutions, dilations
  ``2**stage`` on the temporal depthwise conv and channel-wise dropout (``Dropout2d``, 0.1)
  follow the authors' released code (Qualcomm-AI-research/bcresnet).
* The frequency axis must stay divisible by the 5 sub-bands at every stage, so ``n_mels``
  must be a multiple of 40 (checked at construction; 40 is the paper's setting).
* Recipe: the paper trains 200 epochs at batch 100 with SGD (momentum 0.9, the trainer's
  default); we keep lr 0.1 and the epoch count at batch 256 (lr not rescaled). SpecAugment
  follows the authors' code: none for τ=1; for τ = 2/3/6/8, 2 frequency masks of width
  ≤ 3/5/7/7 bands and 2 time masks of width ≤ 20 frames. Time shift and background noise
  belong to the data pipeline, not here.
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from kwspot.models.registry import register_model

PAPER = "Kim et al., Broadcasted Residual Learning for Efficient Keyword Spotting, Interspeech 2021"
SUB_BANDS = 5


class SubSpectralNorm(nn.Module):
    """Batch norm computed separately for each of ``sub_bands`` equal frequency sub-bands."""

    def __init__(self, channels: int, sub_bands: int = SUB_BANDS, eps: float = 1e-5) -> None:
        super().__init__()
        self.sub_bands = sub_bands
        self.bn = nn.BatchNorm2d(channels * sub_bands, eps=eps)

    def forward(self, x: Tensor) -> Tensor:
        b, c, f, t = x.shape
        y = self.bn(x.reshape(b, c * self.sub_bands, f // self.sub_bands, t))
        return y.reshape(b, c, f, t)


class BCResBlock(nn.Module):
    """One broadcasted residual block (a transition block when widths or strides change)."""

    def __init__(self, in_ch: int, out_ch: int, freq_stride: int = 1, dilation: int = 1,
                 dropout: float = 0.1, sub_bands: int = SUB_BANDS) -> None:
        super().__init__()
        self.transition = in_ch != out_ch or freq_stride != 1
        f2: list[nn.Module] = []
        if self.transition:
            f2 += [nn.Conv2d(in_ch, out_ch, 1, bias=False), nn.BatchNorm2d(out_ch),
                   nn.ReLU(inplace=True)]
        f2 += [nn.Conv2d(out_ch, out_ch, (3, 1), stride=(freq_stride, 1), padding=(1, 0),
                         groups=out_ch, bias=False),
               SubSpectralNorm(out_ch, sub_bands)]
        self.f2 = nn.Sequential(*f2)
        self.f1 = nn.Sequential(
            nn.Conv2d(out_ch, out_ch, (1, 3), padding=(0, dilation), dilation=(1, dilation),
                      groups=out_ch, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.SiLU(inplace=True),
            nn.Conv2d(out_ch, out_ch, 1, bias=False),
            nn.Dropout2d(dropout),
        )

    def forward(self, x: Tensor) -> Tensor:
        z = self.f2(x)
        y = z + self.f1(z.mean(dim=2, keepdim=True))  # broadcast over frequency
        if not self.transition:
            y = y + x
        return F.relu(y)


class BCResNet(nn.Module):
    """BC-ResNet-τ: ``[B, 1, n_mels, T]`` log mel → ``[B, num_classes]`` logits."""

    def __init__(self, num_classes: int = 12, tau: float = 1.0, n_mels: int = 40,
                 dropout: float = 0.1, blocks: tuple[int, ...] = (2, 2, 4, 4),
                 strided_stages: tuple[int, ...] = (1, 2), sub_bands: int = SUB_BANDS) -> None:
        super().__init__()
        base = int(8 * tau)
        widths = [2 * base, base, int(1.5 * base), 2 * base, int(2.5 * base), 4 * base]
        freq = (n_mels + 1) // 2  # after the stride-2 stem
        for i in range(len(blocks)):
            if i in strided_stages:
                freq = (freq + 1) // 2
            if freq % sub_bands:
                raise ValueError(f"BC-ResNet needs the frequency axis divisible by {sub_bands} "
                                 f"sub-bands at every stage; n_mels={n_mels} gives {freq} bands "
                                 f"in stage {i + 1} (use a multiple of 40)")
        self.stem = nn.Sequential(
            nn.Conv2d(1, widths[0], 5, stride=(2, 1), padding=2, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        layers: list[nn.Module] = []
        c_in = widths[0]
        for i, n in enumerate(blocks):
            c_out = widths[i + 1]
            for j in range(n):
                stride = 2 if (i in strided_stages and j == 0) else 1
                layers.append(BCResBlock(c_in, c_out, stride, dilation=2 ** i, dropout=dropout,
                                         sub_bands=sub_bands))
                c_in = c_out
        self.blocks = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Conv2d(c_in, c_in, 5, padding=(0, 2), groups=c_in, bias=False),
            nn.Conv2d(c_in, widths[-1], 1, bias=False),
            nn.BatchNorm2d(widths[-1]),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Conv2d(widths[-1], num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, 1, F, T]`` features → ``[B, classes]`` logits."""
        x = self.head(self.blocks(self.stem(x)))
        x = x.mean(dim=(2, 3), keepdim=True)
        return self.classifier(x).flatten(1)


def _recipe(tau: float) -> dict[str, Any]:
    """Authors' recipe: SGD(0.9) lr 0.1, wd 1e-3, 5-epoch warm-up + cosine, 200 epochs."""
    freq_width = {1: 0, 2: 3, 3: 5, 6: 7, 8: 7}[int(tau)]
    return {
        "epochs": 200,
        "batch_size": 256,
        "lr": 0.1,
        "optimizer": "sgd",
        "weight_decay": 1e-3,
        "schedule": "cosine",
        "warmup": 5 / 200,  # 5 epochs
        "label_smoothing": 0.0,
        "mixup": 0.0,
        "spec_freq_masks": 2 if freq_width else 0,
        "spec_freq_width": freq_width,
        "spec_time_masks": 2 if freq_width else 0,
        "spec_time_width": 20 if freq_width else 0,
        "ema": 0.0,
    }


# 30 ms window / 10 ms hop log mel, as in the authors' code.
_FRONTEND = {"win_length": 480, "n_fft": 512}


def _build(tau: int, num_classes: int, kwargs: dict[str, Any]) -> nn.Module:
    return BCResNet(num_classes=num_classes, tau=tau, **kwargs)


@register_model("bcresnet1", frontend="mel", frontend_overrides=_FRONTEND,
                recommended=_recipe(1), paper=PAPER)
def bcresnet1(num_classes: int = 12, **kwargs: Any) -> nn.Module:
    """BC-ResNet-1 (≈9.2k parameters)."""
    return _build(1, num_classes, kwargs)


@register_model("bcresnet2", frontend="mel", frontend_overrides=_FRONTEND,
                recommended=_recipe(2), paper=PAPER)
def bcresnet2(num_classes: int = 12, **kwargs: Any) -> nn.Module:
    """BC-ResNet-2 (≈27.3k parameters)."""
    return _build(2, num_classes, kwargs)


@register_model("bcresnet3", frontend="mel", frontend_overrides=_FRONTEND,
                recommended=_recipe(3), paper=PAPER)
def bcresnet3(num_classes: int = 12, **kwargs: Any) -> nn.Module:
    """BC-ResNet-3 (≈54.2k parameters)."""
    return _build(3, num_classes, kwargs)


@register_model("bcresnet6", frontend="mel", frontend_overrides=_FRONTEND,
                recommended=_recipe(6), paper=PAPER)
def bcresnet6(num_classes: int = 12, **kwargs: Any) -> nn.Module:
    """BC-ResNet-6 (≈188k parameters)."""
    return _build(6, num_classes, kwargs)


@register_model("bcresnet8", frontend="mel", frontend_overrides=_FRONTEND,
                recommended=_recipe(8), paper=PAPER)
def bcresnet8(num_classes: int = 12, **kwargs: Any) -> nn.Module:
    """BC-ResNet-8 (≈321k parameters)."""
    return _build(8, num_classes, kwargs)
