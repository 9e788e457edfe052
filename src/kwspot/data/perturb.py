"""Acoustic perturbations that make clean (synthetic) speech sound recorded: rooms, devices,
telephone lines and real noise.

Every function works on float audio at 16 kHz along the last axis (``[T]`` or ``[B, T]``), takes
its randomness from an explicit ``numpy.random.Generator`` and is a pure function of it, so a
seed gives the same bytes anywhere.

- :func:`room_impulse_response` / :func:`reverberate`: a synthetic room impulse response
  (direct path, sparse early reflections, exponentially decaying noise tail whose high
  frequencies die faster; RT60 and direct-to-reverberant ratio drawn per room), as in the
  statistical room model used by Kaldi-style reverberation augmentation.
- :func:`device_colouring`: a random microphone/loudspeaker response (low cut, three peaking
  EQ bands, sometimes a band limit).
- :func:`telephone`: an 8 kHz narrow-band channel (300-3,400 Hz) with G.711 mu-law coding.
- :class:`NoiseBank` / :func:`mix_at_snr`: segments of real noise recordings from folders,
  added at a chosen signal-to-noise ratio.
"""

from __future__ import annotations

import functools
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import butter, fftconvolve, resample_poly, sosfilt

from kwspot.data.perturb_settings import Perturbations  # noqa: F401 - defined there
from kwspot.errors import KwspotError

RATE = 16_000
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


def room_impulse_response(rng: np.random.Generator, rt60_s: float, drr_db: float,
                          rate: int = RATE) -> np.ndarray:
    """A synthetic room impulse response, peak-normalized direct path at sample 0.

    Direct sound, 4-12 early reflections within 2-40 ms (random sign, 1/distance-like decay),
    and a late tail of Gaussian noise under ``exp(-6.9 t / RT60)`` whose part above 2 kHz
    decays 1.3-2× faster (air and surface absorption). The reflections and tail together are
    scaled to ``drr_db`` below the direct sound in energy.
    """
    n = max(int(rate * min(1.2 * rt60_s, 1.0)), int(0.05 * rate))
    t = np.arange(n) / rate
    onset = int(rate * rng.uniform(0.002, 0.01))  # the first reflection arrives after this
    low, high = _tail_bands(rate)
    noise = rng.standard_normal((2, n))
    tail = (sosfilt(low, noise[0]) * np.exp(-6.9 * t / rt60_s)
            + sosfilt(high, noise[1]) * np.exp(-6.9 * t * rng.uniform(1.3, 2.0) / rt60_s))
    tail[:onset] = 0.0
    early = np.zeros(n)
    for _ in range(int(rng.integers(4, 13))):
        k = min(n - 1, int(rate * rng.uniform(0.002, 0.04)))
        early[k] += rng.choice((-1.0, 1.0)) * rng.uniform(0.3, 1.0) * (0.002 * rate) / k
    # The diffuse tail carries 1-4x the energy of the early reflections.
    early_energy = float(np.sum(early**2))
    tail *= np.sqrt(early_energy * rng.uniform(1.0, 4.0) / max(float(np.sum(tail**2)), 1e-12))
    reflected = early + tail
    ir = reflected * np.sqrt(10 ** (-drr_db / 10) / max(float(np.sum(reflected**2)), 1e-12))
    ir[0] = 1.0
    return ir


@functools.cache
def _tail_bands(rate: int) -> tuple[np.ndarray, np.ndarray]:
    return (butter(2, 2000, "lowpass", fs=rate, output="sos"),
            butter(2, 2000, "highpass", fs=rate, output="sos"))


def reverberate(x: np.ndarray, ir: np.ndarray) -> np.ndarray:
    """``x`` convolved with ``ir`` along the last axis (length ``len(x) + len(ir) - 1``).

    ``ir`` is ``[L]`` for all clips or ``[B, L]`` for one per clip of a ``[B, T]`` batch.
    """
    ir = np.asarray(ir).reshape((1,) * (np.ndim(x) - np.ndim(ir)) + np.shape(ir))
    return fftconvolve(x, ir, axes=-1)


def device_colouring(x: np.ndarray, rng: np.random.Generator, rate: int = RATE) -> np.ndarray:
    """``x`` through a random device: mic low cut, three peaking EQ bands, sometimes a band limit.

    Low cut: 2nd-order high-pass at 60-300 Hz (log-uniform). EQ: bands at 150-6,000 Hz,
    gain N(0, 4 dB) clipped to ±9 dB, Q 0.7-2.5 (RBJ peaking biquads). With probability
    0.3 a 4th-order low-pass at 3.5-7.5 kHz (a cheap microphone or codec).
    """
    sos = [butter(2, _log_uniform(rng, 60.0, 300.0), "highpass", fs=rate, output="sos")[0]]
    for _ in range(3):
        centre = _log_uniform(rng, 150.0, 6000.0)
        gain_db = float(np.clip(rng.normal(0.0, 4.0), -9.0, 9.0))
        sos.append(peaking_biquad(centre, gain_db, rng.uniform(0.7, 2.5), rate))
    if rng.random() < 0.3:
        sos.extend(butter(4, rng.uniform(3500.0, 7500.0), "lowpass", fs=rate, output="sos"))
    return sosfilt(np.stack(sos), x, axis=-1)


def peaking_biquad(centre_hz: float, gain_db: float, q: float, rate: int = RATE) -> np.ndarray:
    """One second-order section ``[b0, b1, b2, 1, a1, a2]`` of an RBJ peaking equalizer."""
    a = 10 ** (gain_db / 40)
    w = 2 * np.pi * centre_hz / rate
    alpha = np.sin(w) / (2 * q)
    b = np.array([1 + alpha * a, -2 * np.cos(w), 1 - alpha * a])
    den = np.array([1 + alpha / a, -2 * np.cos(w), 1 - alpha / a])
    return np.concatenate([b / den[0], den / den[0]])


def telephone(x: np.ndarray, rate: int = RATE) -> np.ndarray:
    """``x`` through a narrow-band telephone channel, back at ``rate``.

    Down to 8 kHz, band-pass 300-3,400 Hz (4th-order Butterworth), G.711 mu-law coding to
    8 bits, and up to ``rate`` again (so nothing above 4 kHz survives).
    """
    g = gcd(rate, 8000)
    narrow = resample_poly(x, 8000 // g, rate // g, axis=-1)
    narrow = sosfilt(_telephone_band(), narrow, axis=-1)
    narrow = mu_law_decode(mu_law_encode(narrow))
    return resample_poly(narrow, rate // g, 8000 // g, axis=-1)[..., : x.shape[-1]]


@functools.cache
def _telephone_band() -> np.ndarray:
    return butter(4, (300.0, 3400.0), "bandpass", fs=8000, output="sos")


def mu_law_encode(x: np.ndarray, mu: int = 255) -> np.ndarray:
    """Float in [-1, 1] → integer codes 0..mu (G.711-style companding)."""
    y = np.sign(x) * np.log1p(mu * np.minimum(np.abs(x), 1.0)) / np.log1p(mu)
    return np.round((y + 1) / 2 * mu).astype(np.int16)


def mu_law_decode(codes: np.ndarray, mu: int = 255) -> np.ndarray:
    """Integer codes 0..mu → float in [-1, 1]."""
    y = 2 * codes.astype(np.float64) / mu - 1
    return np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float,
               speech_rms: float | None = None) -> np.ndarray:
    """``speech + noise`` with the noise scaled to ``snr_db`` below ``speech_rms``.

    ``speech_rms`` defaults to the RMS of all of ``speech``; pass the RMS of the spoken part
    when the clip is mostly silence.
    """
    level = _rms(speech) if speech_rms is None else speech_rms
    scale = level * 10 ** (-snr_db / 20) / max(_rms(noise), 1e-9)
    return speech + noise * scale


class NoiseBank:
    """Noise recordings found under folders; random segments of them at 16 kHz.

    Files are listed once (sorted, so a seed picks the same segments anywhere) and decoded on
    first use; other rates are resampled, several channels averaged. Files that cannot be
    decoded are skipped and listed in :attr:`skipped`.
    """

    def __init__(self, folders: tuple[str, ...] | list[str]) -> None:
        files: list[Path] = []
        for folder in folders:
            path = Path(folder).expanduser()
            if not path.is_dir():
                raise KwspotError(f"{path}: noise folder not found")
            found = sorted(p for p in path.rglob("*")
                           if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
            if not found:
                raise KwspotError(f"{path}: no audio files (.wav, .flac, .ogg) in noise folder")
            files.extend(found)
        self.files = files
        self.skipped: list[str] = []
        self._audio: dict[int, np.ndarray] = {}

    def segment(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, Path]:
        """``n`` samples from a random file at a random offset (a short file is looped)."""
        for _ in range(len(self.files)):
            index = int(rng.integers(len(self.files)))
            audio = self._load(index)
            if audio.size and _rms(audio) > 1e-6:
                break
        else:
            raise KwspotError(f"no usable noise recording among {len(self.files)} file(s)")
        if audio.size < n:
            audio = np.tile(audio, -(-n // audio.size))
        start = int(rng.integers(0, audio.size - n + 1))
        return audio[start:start + n], self.files[index]

    def _load(self, index: int) -> np.ndarray:
        if index not in self._audio:
            self._audio[index] = self._decode(self.files[index])
        return self._audio[index]

    def _decode(self, path: Path) -> np.ndarray:
        try:
            data, rate = sf.read(path, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
            self.skipped.append(f"{path}: {exc}")
            return np.zeros(0, dtype=np.float32)
        if not np.isfinite(data).all():
            self.skipped.append(f"{path}: audio holds non-finite samples (NaN or infinity)")
            return np.zeros(0, dtype=np.float32)
        mono = data.mean(axis=1)
        if rate != RATE:
            g = gcd(rate, RATE)
            mono = resample_poly(mono, RATE // g, rate // g).astype(np.float32)
        return mono


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0
