"""MatchboxNet: Majumdar & Ginsburg, "MatchboxNet: 1D Time-Channel Separable Convolutional
Neural Network Architecture for Speech Commands Recognition", Interspeech 2020
(arXiv:2004.08531).

A ``BxRxC`` MatchboxNet treats the ``F`` feature bands as channels of a 1-D signal over time
and stacks time-channel separable convolutions (depthwise conv over time, then pointwise
conv over channels, BN, ReLU, dropout)::

    C1 (prologue): separable conv k=11, 128 ch
    B blocks, each R sub-blocks of separable conv k_b, C ch (k_b = 13, 15, 17 for B = 3);
        residual = pointwise conv + BN of the block input, added before the last ReLU
    C2 (epilogue): separable conv k=29, dilation 2, 128 ch
    C3: pointwise conv, 128 ch
    global average pool over time → linear → classes

Input: ``[B, 1, 64, T]`` MFCC (64 coefficients of 64 mel bands, 25 ms window, 10 ms hop, as
in the paper); the singleton channel is squeezed so the bands become ``Conv1d`` channels.
Any ``T`` works (the paper pads/crops to 128 frames; we pool over whatever arrives).

Deviations from the paper:

* Convolutions have no bias (as in NeMo's reference implementation), C1 has stride 1 (the
  speech-commands configuration in NeMo), and the classifier is ``AvgPool → Linear`` (NeMo's
  ``ConvASRDecoderClassification``) rather than the paper's 1×1 conv C4 followed by pooling:
  both are the same linear map of the pooled features.
* Published sizes (77k, 93k) are for the 30/35-word tasks; with 12 classes the head is
  smaller, so ours are ≈2.7% / ≈2.5% lower.
* Recipe: NovoGrad (lr 0.05, betas 0.95/0.5, wd 1e-3, warm-up/hold/polynomial decay) is not
  available; we use AdamW lr 1e-3 with decoupled weight decay 0.05 (the same per-step decay
  ``lr·wd`` = 5e-5 as NovoGrad's), 5% warm-up and cosine decay, over 200 epochs at batch 256
  (NeMo: 2 GPUs × 128). SpecAugment as in NeMo: 2 frequency masks ≤ 15 bands and 2 time
  masks ≤ 25 frames; NeMo's additional SpecCutout (5 rectangles) and its ±5 ms time shift /
  white-noise augmentation are not expressed here.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kwspot.models.registry import register_model

PAPER = ("Majumdar & Ginsburg, MatchboxNet: 1D Time-Channel Separable Convolutional Neural "
         "Network Architecture for Speech Commands Recognition, Interspeech 2020")


class SeparableConvBn(nn.Module):
    """Depthwise Conv1d over time (``same`` padding) → pointwise Conv1d → BatchNorm1d."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, dilation: int = 1,
                 separable: bool = True) -> None:
        super().__init__()
        pad = dilation * (kernel_size - 1) // 2
        if separable:
            self.conv = nn.Sequential(
                nn.Conv1d(in_ch, in_ch, kernel_size, padding=pad, dilation=dilation,
                          groups=in_ch, bias=False),
                nn.Conv1d(in_ch, out_ch, 1, bias=False),
            )
        else:
            self.conv = nn.Conv1d(in_ch, out_ch, kernel_size, padding=pad, dilation=dilation,
                                  bias=False)
        self.bn = nn.BatchNorm1d(out_ch)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(self.conv(x))


class MatchboxBlock(nn.Module):
    """``repeat`` separable sub-blocks with a pointwise-conv residual around them."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, repeat: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            SeparableConvBn(in_ch if i == 0 else out_ch, out_ch, kernel_size)
            for i in range(repeat)
        )
        self.residual = nn.Sequential(nn.Conv1d(in_ch, out_ch, 1, bias=False),
                                      nn.BatchNorm1d(out_ch))
        self.dropout = dropout

    def forward(self, x: Tensor) -> Tensor:
        y = x
        for i, layer in enumerate(self.layers):
            y = layer(y)
            if i == len(self.layers) - 1:
                y = y + self.residual(x)
            y = F.dropout(F.relu(y), self.dropout, self.training)
        return y


class MatchboxNet(nn.Module):
    """MatchboxNet ``BxRxC``: ``[B, 1, n_mfcc, T]`` → ``[B, num_classes]`` logits."""

    def __init__(self, num_classes: int = 12, in_features: int = 64, blocks: int = 3,
                 repeat: int = 1, channels: int = 64, dropout: float = 0.0,
                 kernels: tuple[int, ...] = (13, 15, 17), prologue_channels: int = 128,
                 epilogue_channels: int = 128) -> None:
        super().__init__()
        if len(kernels) < blocks:
            raise ValueError(f"need {blocks} block kernel sizes, got {kernels}")
        self.in_features = in_features
        self.dropout = dropout
        self.prologue = SeparableConvBn(in_features, prologue_channels, 11)
        c_in = prologue_channels
        body = []
        for b in range(blocks):
            body.append(MatchboxBlock(c_in, channels, kernels[b], repeat, dropout))
            c_in = channels
        self.blocks = nn.Sequential(*body)
        self.epilogue1 = SeparableConvBn(c_in, epilogue_channels, 29, dilation=2)
        self.epilogue2 = SeparableConvBn(epilogue_channels, epilogue_channels, 1,
                                         separable=False)
        self.fc = nn.Linear(epilogue_channels, num_classes)

    def _act(self, x: Tensor) -> Tensor:
        return F.dropout(F.relu(x), self.dropout, self.training)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, 1, F, T]`` (or ``[B, F, T]``) features → ``[B, classes]`` logits."""
        if x.dim() == 4:
            x = x.squeeze(1)
        if not torch.jit.is_tracing() and x.shape[1] != self.in_features:
            raise ValueError(f"MatchboxNet expects {self.in_features} feature bands, "
                             f"got input of shape {tuple(x.shape)}")
        x = self._act(self.prologue(x))
        x = self.blocks(x)
        x = self._act(self.epilogue1(x))
        x = self._act(self.epilogue2(x))
        return self.fc(x.mean(dim=2))


def _recipe() -> dict[str, Any]:
    return {
        "epochs": 200,
        "batch_size": 256,
        "lr": 1e-3,
        "optimizer": "adamw",
        "weight_decay": 0.05,
        "schedule": "cosine",
        "warmup": 0.05,
        "label_smoothing": 0.0,
        "mixup": 0.0,
        "spec_time_masks": 2,
        "spec_time_width": 25,
        "spec_freq_masks": 2,
        "spec_freq_width": 15,
        "ema": 0.0,
    }


# 64 MFCC from 64 mel bands, 25 ms window, 10 ms hop (the front-end defaults otherwise).
_FRONTEND = {"n_mels": 64, "n_mfcc": 64}


@register_model("matchboxnet3x1x64", frontend="mfcc", frontend_overrides=_FRONTEND,
                recommended=_recipe(), paper=PAPER)
def matchboxnet3x1x64(num_classes: int = 12, **kwargs: Any) -> nn.Module:
    """MatchboxNet 3x1x64 (≈77k parameters with 30 classes)."""
    return MatchboxNet(num_classes=num_classes, blocks=3, repeat=1, channels=64, **kwargs)


@register_model("matchboxnet3x2x64", frontend="mfcc", frontend_overrides=_FRONTEND,
                recommended=_recipe(), paper=PAPER)
def matchboxnet3x2x64(num_classes: int = 12, **kwargs: Any) -> nn.Module:
    """MatchboxNet 3x2x64 (≈93k parameters with 30 classes)."""
    return MatchboxNet(num_classes=num_classes, blocks=3, repeat=2, channels=64, **kwargs)
