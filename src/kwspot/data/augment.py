"""Training-batch augmentation, vectorized in torch on the training device.

:class:`WaveAugment` works on float waveforms ``[B, T]``: random time shift, background-noise
mixing, random gain, speed/pitch perturbation. :func:`spec_augment` masks time and frequency
stripes of features ``[B, 1, F, T]``. All randomness comes from an explicit
``torch.Generator`` on the batch's device, so a seed reproduces a run. Apply only to training
batches.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from kwspot.data.augment_settings import AugmentConfig

__all__ = ["AugmentConfig", "WaveAugment", "spec_augment", "spec_augment_as"]


class WaveAugment(nn.Module):
    """Augments a batch of float waveforms ``[B, T]`` (values in [-1, 1])."""

    def __init__(self, cfg: AugmentConfig, noise: Tensor | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        if noise is None or noise.numel() == 0:
            noise = torch.zeros(0)
        self.register_buffer("noise", noise.float().reshape(-1), persistent=False)

    def forward(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """``[B, T]`` → ``[B, T]`` augmented copy."""
        c = self.cfg
        b, t = x.shape
        dev = x.device

        def uniform(lo: float, hi: float) -> Tensor:
            return torch.rand(b, device=dev, generator=generator) * (hi - lo) + lo

        if c.speed > 0:
            x = _resample_speed(x, uniform(1 - c.speed, 1 + c.speed))
        if c.shift_ms > 0:
            max_shift = int(c.sample_rate * c.shift_ms / 1000)
            shift = torch.randint(-max_shift, max_shift + 1, (b,), device=dev,
                                  generator=generator)
            idx = torch.arange(t, device=dev)[None, :] - shift[:, None]
            valid = (idx >= 0) & (idx < t)
            x = torch.gather(x, 1, idx.clamp(0, t - 1)) * valid
        if c.gain_db > 0:
            x = x * torch.pow(10.0, uniform(-c.gain_db, c.gain_db) / 20)[:, None]
        if c.noise_prob > 0 and c.noise_volume > 0 and self.noise.numel() > t:
            start = torch.randint(0, self.noise.numel() - t, (b,), device=dev,
                                  generator=generator)
            crops = self.noise[start[:, None] + torch.arange(t, device=dev)[None, :]]
            vol = uniform(0, c.noise_volume)
            vol = vol * (torch.rand(b, device=dev, generator=generator) < c.noise_prob)
            x = x + crops * vol[:, None]
        return x.clamp(-1.0, 1.0)


def _resample_speed(x: Tensor, factor: Tensor) -> Tensor:
    """Play each clip ``factor`` times faster (linear interpolation around the centre)."""
    b, t = x.shape
    centre = (t - 1) / 2
    offset = torch.arange(t, device=x.device, dtype=x.dtype)[None, :] - centre
    pos = centre + offset * factor[:, None]
    lo = pos.floor().long()
    frac = pos - lo
    valid = (lo >= 0) & (lo < t - 1)
    lo = lo.clamp(0, t - 2)
    y = torch.gather(x, 1, lo) * (1 - frac) + torch.gather(x, 1, lo + 1) * frac
    return y * valid


def spec_augment_as(cfg: AugmentConfig, feats: Tensor, generator: torch.Generator) -> Tensor:
    """SpecAugment with ``cfg``'s masks; ``feats`` unchanged when it asks for none."""
    if not (cfg.spec_time_masks or cfg.spec_freq_masks):
        return feats
    return spec_augment(feats, generator, time_masks=cfg.spec_time_masks,
                        time_width=cfg.spec_time_width, freq_masks=cfg.spec_freq_masks,
                        freq_width=cfg.spec_freq_width)


def spec_augment(feats: Tensor, generator: torch.Generator, *, time_masks: int = 2,
                 time_width: int = 25, freq_masks: int = 2, freq_width: int = 7) -> Tensor:
    """SpecAugment (Park et al., 2019): zero ``time_masks`` stripes of up to ``time_width``
    frames and ``freq_masks`` stripes of up to ``freq_width`` bands per clip of
    ``[B, C, F, T]`` features."""
    b, _, f, t = feats.shape
    dev = feats.device
    keep = torch.ones(b, 1, f, t, device=dev, dtype=feats.dtype)
    for n, width, size, axis in ((time_masks, time_width, t, 3), (freq_masks, freq_width, f, 2)):
        if n <= 0 or width <= 0:
            continue
        w = torch.randint(0, width + 1, (b, n), device=dev, generator=generator)
        s = (torch.rand(b, n, device=dev, generator=generator) * (size - w + 1)).long()
        pos = torch.arange(size, device=dev)[None, None, :]
        masked = ((pos >= s[..., None]) & (pos < (s + w)[..., None])).any(dim=1)  # [B, size]
        shape = (b, 1, size, 1) if axis == 2 else (b, 1, 1, size)
        keep = keep * (~masked).to(feats.dtype).reshape(shape)
    return feats * keep
