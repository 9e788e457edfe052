"""Precomputed features per clip and augmentation copy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from kwspot.data.augment import AugmentConfig, WaveAugment
from kwspot.feature_bank import build_bank
from kwspot.features import Frontend, FrontendConfig, int16_to_float


def _waves(n: int = 6) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.normal(0, 0.1, (n, 16000)) * 32767).astype(np.int16)


def test_bank_holds_clean_and_augmented_copies(tmp_path: Path) -> None:
    fe = Frontend(FrontendConfig(kind="mel"))
    waves = _waves()
    aug = WaveAugment(AugmentConfig(shift_ms=100, noise_prob=0.0, gain_db=6))
    bank = build_bank(fe, waves, aug, 2, seed=1, batch=4, cache_dir=tmp_path)
    assert bank.feats.shape == (3, 6, 1, 40, 101) and bank.copies == 2 and len(bank) == 6
    with torch.no_grad():
        clean = fe(int16_to_float(torch.from_numpy(waves)))
    torch.testing.assert_close(bank.clean(torch.arange(6)), clean, atol=0.02, rtol=0.01)
    assert (bank.feats[1].float() - bank.feats[0].float()).abs().mean() > 0.1
    # A batch takes each clip from one of its copies.
    got = bank.batch(torch.tensor([0, 5, 5]), torch.Generator().manual_seed(0))
    for row, i in zip(got, (0, 5, 5), strict=True):
        assert any(torch.equal(row, bank.feats[c, i].float()) for c in range(3))


def test_bank_is_cached_and_keyed_by_its_inputs(tmp_path: Path) -> None:
    fe = Frontend(FrontendConfig(kind="mfcc"))
    aug = WaveAugment(AugmentConfig(gain_db=6, noise_prob=0.0))
    waves = _waves(3)
    first = build_bank(fe, waves, aug, 1, cache_dir=tmp_path)
    assert len(list((tmp_path / "features").glob("*/*.npy"))) == 3  # one file per clip
    again = build_bank(fe, waves, aug, 1, cache_dir=tmp_path)
    assert torch.equal(again.feats, first.feats)
    # A clip's copies do not depend on the other clips of the run: a subset reads them back.
    calls = []
    sub = build_bank(fe, waves[1:], aug, 1, cache_dir=tmp_path,
                     progress=lambda done, total: calls.append(total))
    assert calls == [] and torch.equal(sub.feats, first.feats[:, 1:])
    build_bank(fe, waves, aug, 1, seed=5, cache_dir=tmp_path)
    assert len(list((tmp_path / "features").glob("*/*.npy"))) == 6
