"""How often and how strongly clean (synthetic) speech is made to sound recorded (scipy-free:
the command line reads it without the signal processing). :mod:`kwspot.data.perturb` applies
it."""

from __future__ import annotations

from dataclasses import dataclass

from kwspot.errors import KwspotError


@dataclass(frozen=True)
class Perturbations:
    """How often each perturbation applies to a clip, and how strongly (all off by default)."""

    reverb: float = 0.0  # share of clips spoken in a simulated room
    rt60_s: tuple[float, float] = (0.15, 0.9)  # reverberation time range (log-uniform)
    drr_db: tuple[float, float] = (0.0, 18.0)  # direct-to-reverberant ratio range
    device: float = 0.0  # share of clips heard through a random device response (EQ, low cut)
    telephone: float = 0.0  # share of clips sent through an 8 kHz telephone channel
    noise: float = 0.0  # share of clips with a real noise recording added (when noise_dirs)
    snr_db: tuple[float, float] = (5.0, 30.0)  # speech-to-noise ratio range for real noise
    noise_dirs: tuple[str, ...] = ()  # folders of noise recordings (wav/flac, any rate)

    def __post_init__(self) -> None:
        for name in ("reverb", "device", "telephone", "noise"):
            share = getattr(self, name)
            if not 0.0 <= share <= 1.0:
                raise KwspotError(f"{name} {share}: a share of clips must be within 0..1")
        for name in ("rt60_s", "drr_db", "snr_db"):
            low, high = getattr(self, name)
            if low > high:
                raise KwspotError(f"{name} {low},{high}: the low end is above the high end")
        if self.rt60_s[0] <= 0:
            raise KwspotError(f"rt60_s {self.rt60_s[0]}: must be positive")

    @property
    def uses_noise(self) -> bool:
        """Whether some clips get real noise (a share above 0 and folders to take it from)."""
        return self.noise > 0 and bool(self.noise_dirs)
