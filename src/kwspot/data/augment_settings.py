"""The augmentation settings (torch-free: the command line reads them without torch).
:mod:`kwspot.data.augment` applies them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kwspot.data.audio import SAMPLE_RATE
from kwspot.settings import setting


def _augment(default: float, help: str) -> Any:  # noqa: A002 - argparse's word
    return setting(default, help, group="augmentation")


@dataclass(frozen=True)
class AugmentConfig:
    """Waveform augmentation settings (0 turns an option off)."""

    shift_ms: float = _augment(100.0, "random time shift ±ms, zero-filled")
    noise_prob: float = _augment(0.8, "chance that a clip gets background noise mixed in")
    noise_volume: float = _augment(0.1, "max noise volume, relative to the noise's own level")
    gain_db: float = _augment(0.0, "random gain ±dB")
    speed: float = _augment(0.0, "speed/pitch perturbation ±fraction")
    sample_rate: int = SAMPLE_RATE
    spec_time_masks: int = _augment(0, "SpecAugment time masks per clip, on features")
    spec_time_width: int = _augment(25, "max width of a SpecAugment time mask, in frames")
    spec_freq_masks: int = _augment(0, "SpecAugment frequency masks per clip")
    spec_freq_width: int = _augment(7, "max width of a SpecAugment frequency mask, in bands")

    @property
    def enabled(self) -> bool:
        return any((self.shift_ms, self.noise_prob * self.noise_volume, self.gain_db, self.speed))
