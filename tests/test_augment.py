"""Augmentation: statistics, reproducibility, device-side vectorization."""

from __future__ import annotations

import torch

from kwspot.data.augment import AugmentConfig, WaveAugment, spec_augment


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_shift_moves_an_impulse_within_range() -> None:
    aug = WaveAugment(AugmentConfig(shift_ms=100, noise_prob=0, noise_volume=0))
    x = torch.zeros(512, 16000)
    x[:, 8000] = 1.0
    y = aug(x, _gen())
    pos = y.argmax(dim=1) - 8000
    assert pos.abs().max() <= 1600
    assert pos.float().std() > 500  # spread over the range, roughly uniform
    assert (y.sum(dim=1) == 1).all()  # nothing else changes


def test_noise_probability_and_volume() -> None:
    noise = torch.randn(16000 * 10) * 0.5
    aug = WaveAugment(AugmentConfig(shift_ms=0, noise_prob=0.8, noise_volume=0.1), noise)
    y = aug(torch.zeros(2000, 16000), _gen(1))
    rms = y.pow(2).mean(dim=1).sqrt()
    frac_noisy = (rms > 0).float().mean().item()
    assert 0.75 < frac_noisy < 0.85
    assert rms.max() <= 0.1 * 0.5 * 1.1  # volume at most 0.1 of the noise level


def test_gain_and_speed() -> None:
    x = torch.sin(torch.arange(16000) / 16000 * 2 * torch.pi * 440).repeat(64, 1) * 0.1
    aug = WaveAugment(AugmentConfig(shift_ms=0, noise_prob=0, gain_db=6))
    ratio = aug(x, _gen()).abs().amax(dim=1) / x.abs().amax(dim=1)
    assert ratio.min() >= 10 ** (-6 / 20) - 1e-3 and ratio.max() <= 10 ** (6 / 20) + 1e-3
    fast = WaveAugment(AugmentConfig(shift_ms=0, noise_prob=0, speed=0.2))(x, _gen())
    # zero crossings count the pitch: a faster clip has more (or fewer when slower)
    crossings = ((fast[:, 1:] * fast[:, :-1]) < 0).sum(dim=1).float()
    assert crossings.std() > 10


def test_reproducible_with_a_seed() -> None:
    aug = WaveAugment(AugmentConfig(gain_db=3, speed=0.1), torch.randn(50000))
    x = torch.randn(8, 16000) * 0.1
    assert torch.equal(aug(x, _gen(5)), aug(x, _gen(5)))
    assert not torch.equal(aug(x, _gen(5)), aug(x, _gen(6)))


def test_spec_augment_masks_stripes() -> None:
    feats = torch.ones(32, 1, 40, 101)
    out = spec_augment(feats, _gen(), time_masks=2, time_width=10, freq_masks=2, freq_width=5)
    zero_frames = (out == 0).all(dim=2).sum(dim=-1).squeeze(1)  # fully masked frames per clip
    zero_bands = (out == 0).all(dim=3).sum(dim=-1).squeeze(1)
    assert zero_frames.max() <= 20 and zero_bands.max() <= 10
    assert zero_frames.float().mean() > 2 and zero_bands.float().mean() > 1
