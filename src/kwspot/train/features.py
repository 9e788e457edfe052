"""Training on precomputed features: a frozen pretrained embedding is run once per clip.

When the network's front-end is the pretrained speech embedding and it stays frozen
(``embedding_lr_scale`` 0), every training clip's embeddings are computed once, clean and in
``feature_copies`` augmented versions (the run's own augmentation), cached on disk
(:mod:`kwspot.feature_bank`), and the loop trains the head on them
(:class:`~kwspot.train.batches.FeatureBatches`); validation uses the clean embeddings of the
validation clips. When only the embedding's last layers are fine-tuned
(``embedding_tune_layers`` < 20), the same holds for the output of its frozen layers, and each
step runs the tuned layers and the head on it. Any other front-end trains on waveforms as
before.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from torch import Tensor, nn

from kwspot.config import TrainConfig
from kwspot.data.augment import WaveAugment
from kwspot.distributed import DistInfo, local_main_first
from kwspot.feature_bank import build_bank
from kwspot.network import KwsNet
from kwspot.train.batches import FeatureBatches, IndexSampler


@dataclass(frozen=True)
class PrecomputedFeatures:
    source: FeatureBatches
    val_features: Tensor  # clean features of the validation clips
    clips: int
    copies: int
    seconds: float  # spent computing (or reading) them


def uses_precomputed(net: KwsNet) -> bool:
    """Whether ``net``'s front-end is a pretrained embedding, frozen or with only its last
    layers fine-tuned."""
    return net.frontend.splits_in_stages


class FromFrozenStage(nn.Module):
    """``net`` on precomputed frozen-stage features: its tuned stage, then its classifier."""

    def __init__(self, net: KwsNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        return self.net.classifier(self.net.frontend.tuned_stage(x))


def precompute(cfg: TrainConfig, net: KwsNet, augment: WaveAugment, train_waves: np.ndarray,
               train_labels: Tensor, val_waves: np.ndarray, dist: DistInfo,
               progress: Callable[[int, int], None] | None = None) -> PrecomputedFeatures:
    """The training batches and validation inputs as embeddings (under torchrun one process
    per machine computes them, the others read the cache)."""
    t0 = time.perf_counter()
    device = train_labels.device

    def build() -> tuple[Tensor, Tensor]:
        bank = build_bank(net.frontend, train_waves, augment, cfg.feature_copies,
                          seed=cfg.seed, cache_dir=cfg.cache_dir, progress=progress)
        val = build_bank(net.frontend, val_waves, None, 0, cache_dir=cfg.cache_dir)
        return bank.feats, val.feats[0]

    feats, val = local_main_first(build, dist)
    sampler = IndexSampler(len(train_labels), cfg.batch_size, cfg.seed, dist)
    source = FeatureBatches(feats.float().to(device), train_labels, sampler)
    return PrecomputedFeatures(source, val.float().to(device), len(train_labels),
                               cfg.feature_copies, time.perf_counter() - t0)
