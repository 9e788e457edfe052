"""The two input pipelines the benchmarks compare, and kwspot's training step.

* :func:`kwspot_step`: what ``kwspot train`` does per iteration, imported from
  :mod:`kwspot.train.step`: a batch of the int16 clips held in memory → augmentation →
  front-end (→ SpecAugment, mixup when the recipe asks for them) → forward, backward,
  optimizer step (→ EMA), all batched in torch on the training device.
* :class:`PlainClips`: the usual alternative: a ``torch.utils.data.Dataset`` that reads each
  WAV with soundfile, applies the same augmentation (random shift, background noise) in numpy
  and computes librosa features clip by clip, batched by a ``DataLoader``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from kwspot import models
from kwspot.config import TrainConfig
from kwspot.features import FrontendConfig
from kwspot.train.step import TrainStep

NUM_CLASSES = 12


def recipe(model: str, **overrides: object) -> TrainConfig:
    """The training config ``kwspot train --model MODEL`` would use, with ``overrides``."""
    return TrainConfig.resolve({"model": model, **overrides}, models.get_spec(model).recommended)


def kwspot_step(cfg: TrainConfig, noise: Tensor, device: torch.device | str = "cpu"
                ) -> TrainStep:
    """kwspot's own training step (:class:`kwspot.train.step.TrainStep`) for a fresh network
    of ``cfg.model`` with 12 classes: the step ``kwspot train`` runs, EMA and mixup included."""
    return TrainStep.for_model(cfg, NUM_CLASSES, noise, device)


@dataclass(frozen=True)
class PlainAugment:
    """The same augmentation as kwspot's defaults, in numpy, one clip at a time."""

    shift_ms: float = 100.0
    noise_prob: float = 0.8
    noise_volume: float = 0.1


class PlainClips(torch.utils.data.Dataset):
    """WAV files read with soundfile, augmented in numpy, librosa features per item."""

    def __init__(self, files: list[Path], labels: np.ndarray, fe: FrontendConfig,
                 noise: np.ndarray | None = None, augment: PlainAugment | None = None,
                 seed: int = 0) -> None:
        self.files, self.labels, self.fe = files, labels, fe
        self.noise = noise.astype(np.float32) / 32768.0 if noise is not None else None
        self.augment = augment
        self.seed = seed
        self._rng: np.random.Generator | None = None  # made in each worker process

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        import soundfile as sf

        x, _ = sf.read(str(self.files[i]), dtype="float32")
        x = np.pad(x, (0, max(0, 16000 - len(x))))[:16000]
        if self.augment is not None:
            if self._rng is None:
                self._rng = np.random.default_rng([self.seed, os.getpid()])
            x = self._augment(x, self._rng)
        return torch.from_numpy(librosa_features(x, self.fe)[None]), int(self.labels[i])

    def _augment(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        a = self.augment
        assert a is not None
        shift = int(rng.integers(-int(16 * a.shift_ms), int(16 * a.shift_ms) + 1))
        y = np.zeros_like(x)
        if shift >= 0:
            y[shift:] = x[:len(x) - shift]
        else:
            y[:shift] = x[-shift:]
        if self.noise is not None and rng.random() < a.noise_prob:
            start = int(rng.integers(0, len(self.noise) - 16000))
            y = y + self.noise[start:start + 16000] * rng.uniform(0, a.noise_volume)
        return np.clip(y, -1.0, 1.0)


def librosa_features(x: np.ndarray, fe: FrontendConfig) -> np.ndarray:
    """kwspot's front-end recipe computed with librosa: log mel or MFCC ``[F, frames]``."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=x, sr=fe.sample_rate, n_fft=fe.n_fft, win_length=fe.win_length,
        hop_length=fe.hop_length, n_mels=fe.n_mels, fmin=fe.f_min, fmax=fe.f_max, center=True,
        pad_mode="constant")
    logmel = np.log(mel + fe.log_floor)
    if fe.kind == "mfcc":
        return librosa.feature.mfcc(S=logmel, n_mfcc=fe.n_mfcc).astype(np.float32)
    return logmel.astype(np.float32)


def limit_blas(_worker_id: int = 0) -> None:
    """One BLAS thread (librosa's numpy maths) in this process or DataLoader worker."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def plain_loader(ds: PlainClips, batch_size: int, workers: int,
                 seed: int = 0) -> torch.utils.data.DataLoader:
    """The usual DataLoader over per-item WAV reading + librosa; workers use one BLAS thread."""
    return torch.utils.data.DataLoader(
        ds, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=True,
        generator=torch.Generator().manual_seed(seed), persistent_workers=workers > 0,
        worker_init_fn=limit_blas if workers else None)


def forever(loader: torch.utils.data.DataLoader):
    """Batches of ``loader``, epoch after epoch."""
    while True:
        yield from loader


def training_files(root: Path) -> tuple[list[Path], np.ndarray, np.ndarray]:
    """Files, labels and the noise bank of the training split of ``root`` (real files only)."""
    from kwspot.data.dataset import DataConfig, load_dataset

    data = load_dataset(DataConfig(root=str(root)), verbose=False)
    tr = data.splits["training"]
    keep = [i for i, s in enumerate(tr.sources) if not s.startswith("silence:")]
    files = [data.layout.root / tr.sources[i] for i in keep]
    return files, tr.labels[keep], data.noise_bank()
