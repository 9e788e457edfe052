"""DS-CNN: Zhang, Suda, Lai, Chandra, "Hello Edge: Keyword Spotting on Microcontrollers",
2017 (arXiv:1711.07128).

A MobileNet-style stack: one standard conv (10×4 over time×frequency) + BN + ReLU, then
depthwise-separable layers (3×3 depthwise conv + BN + ReLU, 1×1 pointwise conv + BN + ReLU),
global average pooling and a linear classifier. Sizes follow the authors' released
configurations (ARM-software/ML-KWS-for-MCU):

======  ========  ================  ==========================================
name    width     first conv        depthwise-separable layers
======  ========  ================  ==========================================
S       64        10×4, stride 2×2  4, stride 1
M       172       10×4, stride 2×1  4, the first with stride 2×2
L       276       10×4, stride 2×1  5, the first with stride 2×2
======  ========  ================  ==========================================

(kernels and strides given as time × frequency). Our tensors are ``[B, 1, F, T]``, so the
kernels are applied as ``(4, 10)`` and the strides as ``(f, t)``. Input: the paper's front end,
10 MFCC from 40 mel bands (20 Hz–4 kHz, TensorFlow's ``mfcc`` defaults) with 40 ms windows
and a 20 ms hop, i.e. ``[B, 1, 10, 51]`` with our centred framing (49 frames in the paper);
any ``F`` and ``T`` work, parameter counts do not depend on them.

Deviations from the paper:

* Convolutions followed by BN have no bias (the reference adds a redundant bias before each
  BN: +1 parameter per channel, ≈0.3–1% more parameters).
* ``SAME`` padding is fixed rather than input-dependent: ``(4, 5)`` frames and ``(1, 2)``
  bands for the 10×4 conv, 1 on each side for 3×3. Output sizes equal TensorFlow's
  ``ceil(n / stride)``, but where TensorFlow's split depends on the input size and stride
  (e.g. ``(1, 1)`` bands for DS-CNN-S's 10 bands at stride 2) the grid may sit one sample off.
* Recipe: the reference trains Adam at batch 100 for 3×10k steps with lr 5e-4 → 1e-4 → 2e-5.
  We keep the sample budget (3.0M clips ≈ 81 epochs) at batch 256 and replace the steps by
  AdamW (no weight decay) with lr 5e-4, a short warm-up and cosine decay. No SpecAugment, as
  in the paper (time shift and background noise belong to the data pipeline).
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from kwspot.models.registry import register_model

PAPER = "Zhang et al., Hello Edge: Keyword Spotting on Microcontrollers, arXiv:1711.07128, 2017"


class DepthwiseSeparable(nn.Module):
    """3×3 depthwise conv + BN + ReLU, then 1×1 pointwise conv + BN + ReLU."""

    def __init__(self, in_ch: int, out_ch: int, stride: tuple[int, int] = (1, 1)) -> None:
        super().__init__()
        self.dw = nn.Conv2d(in_ch, in_ch, 3, stride=stride, padding=1, groups=in_ch,
                            bias=False)
        self.bn1 = nn.BatchNorm2d(in_ch)
        self.pw = nn.Conv2d(in_ch, out_ch, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.bn1(self.dw(x)))
        return F.relu(self.bn2(self.pw(x)))


class DSCNN(nn.Module):
    """DS-CNN: ``[B, 1, F, T]`` MFCC → ``[B, num_classes]`` logits.

    ``first_stride`` and ``ds_strides`` are ``(frequency, time)`` strides.
    """

    def __init__(self, num_classes: int = 12, width: int = 64,
                 first_stride: tuple[int, int] = (2, 2),
                 ds_strides: tuple[tuple[int, int], ...] = ((1, 1),) * 4,
                 dropout: float = 0.0) -> None:
        super().__init__()
        # 10 frames × 4 bands with TensorFlow-style SAME output size: pad (left, right, top,
        # bottom) = time (4, 5), frequency (1, 2).
        self.pad = nn.ZeroPad2d((4, 5, 1, 2))
        self.conv = nn.Conv2d(1, width, (4, 10), stride=first_stride, bias=False)
        self.bn = nn.BatchNorm2d(width)
        self.layers = nn.Sequential(*(DepthwiseSeparable(width, width, s) for s in ds_strides))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, 1, F, T]`` features → ``[B, classes]`` logits."""
        x = F.relu(self.bn(self.conv(self.pad(x))))
        x = self.layers(x)
        return self.fc(self.dropout(x.mean(dim=(2, 3))))


# ~37k clips per epoch (12-class Speech Commands training split); 3×10k steps at batch 100
# = 3.0M clips ≈ 81 epochs ≈ 11.7k iterations at batch 256 (≈145 iterations per epoch).
def _recipe() -> dict[str, Any]:
    return {
        "epochs": 81,  # 11,700 iterations at batch 256 on the 37k training clips
        "batch_size": 256,
        "lr": 5e-4,
        "optimizer": "adamw",
        "weight_decay": 0.0,
        "schedule": "cosine",
        "warmup": 1 / 81,  # 1 epoch
        "label_smoothing": 0.0,
        "mixup": 0.0,
        "spec_time_masks": 0,
        "spec_time_width": 0,
        "spec_freq_masks": 0,
        "spec_freq_width": 0,
        "ema": 0.0,
    }


# 10 MFCC of 40 mel bands (20 Hz–4 kHz), 40 ms window (FFT 1024), 20 ms hop.
_FRONTEND = {"n_mfcc": 10, "n_mels": 40, "win_length": 640, "hop_length": 320, "n_fft": 1024,
             "f_min": 20.0, "f_max": 4000.0}


@register_model("dscnn_s", frontend="mfcc", frontend_overrides=_FRONTEND,
                recommended=_recipe(), paper=PAPER)
def dscnn_s(num_classes: int = 12, **kwargs: Any) -> nn.Module:
    """DS-CNN-S (≈24k parameters)."""
    return DSCNN(num_classes, width=64, first_stride=(2, 2), ds_strides=((1, 1),) * 4,
                 **kwargs)


@register_model("dscnn_m", frontend="mfcc", frontend_overrides=_FRONTEND,
                recommended=_recipe(), paper=PAPER)
def dscnn_m(num_classes: int = 12, **kwargs: Any) -> nn.Module:
    """DS-CNN-M (≈140k parameters)."""
    return DSCNN(num_classes, width=172, first_stride=(1, 2),
                 ds_strides=((2, 2),) + ((1, 1),) * 3, **kwargs)


@register_model("dscnn_l", frontend="mfcc", frontend_overrides=_FRONTEND,
                recommended=_recipe(), paper=PAPER)
def dscnn_l(num_classes: int = 12, **kwargs: Any) -> nn.Module:
    """DS-CNN-L (≈420k parameters)."""
    return DSCNN(num_classes, width=276, first_stride=(1, 2),
                 ds_strides=((2, 2),) + ((1, 1),) * 4, **kwargs)
