"""Test-time augmentation: the probabilities of a clip averaged over shifted and louder/quieter
copies of it (numpy only; ``kwspot predict --tta`` and ``kwspot evaluate --tta``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

TTA_SHIFTS_MS = (-100.0, -50.0, 50.0, 100.0)  # time shifts of the copies (zero-filled)
TTA_GAINS_DB = (-3.0, 3.0)  # volume changes of the copies (clipped to [-1, 1])


def shift(x: np.ndarray, samples: int) -> np.ndarray:
    """Shift waveforms ``[..., T]`` later by ``samples`` (earlier when negative), zero-filled."""
    out = np.zeros_like(x)
    if samples > 0:
        out[..., samples:] = x[..., :-samples]
    elif samples < 0:
        out[..., :samples] = x[..., -samples:]
    else:
        out[...] = x
    return out


def tta_variants(x: np.ndarray, sample_rate: int, *,
                 shifts_ms: tuple[float, ...] = TTA_SHIFTS_MS,
                 gains_db: tuple[float, ...] = TTA_GAINS_DB) -> Iterator[np.ndarray]:
    """The float waveforms ``x [B, T]`` themselves, then one copy per shift and per gain."""
    yield x
    for ms in shifts_ms:
        yield shift(x, int(round(ms * sample_rate / 1000)))
    for db in gains_db:
        yield np.clip(x * np.float32(10 ** (db / 20)), -1.0, 1.0).astype(np.float32)


def num_variants(shifts_ms: tuple[float, ...] = TTA_SHIFTS_MS,
                 gains_db: tuple[float, ...] = TTA_GAINS_DB) -> int:
    return 1 + len(shifts_ms) + len(gains_db)


def tta_proba(clf: Any, x: np.ndarray) -> np.ndarray:
    """``clf.predict_proba`` of float waveforms ``x [B, T]`` averaged over :func:`tta_variants`
    (``clf``: a :class:`~kwspot.infer.backend.Classifier`)."""
    total = sum(clf.predict_proba(v).astype(np.float64) for v in tta_variants(x, clf.sample_rate))
    return (total / num_variants()).astype(np.float32)
