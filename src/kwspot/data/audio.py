"""Reading audio clips with soundfile: 16 kHz mono int16, padded or cropped to a fixed length."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

from kwspot.errors import KwspotError

SAMPLE_RATE = 16000
CLIP_SAMPLES = 16000
MIN_RATE, MAX_RATE = 1_000, 768_000  # sample rates that can be resampled
AUDIO_SUFFIXES = (".wav", ".flac")
_FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")  # the only encodings that can hold NaN or infinity


def is_audio_file(path: Path) -> bool:
    """True for ``.wav`` / ``.flac`` files (any case; ``x.wav.wav`` included)."""
    return path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES


def read_audio(path: Path | str, *, resample: bool = False,
               sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read a whole file as int16 mono at ``sample_rate``.

    A file at another rate or with several channels raises a :class:`KwspotError` naming it,
    unless ``resample`` is true (then it is downmixed by averaging and resampled with a
    polyphase filter). A floating-point file holding NaN or infinity is refused the same way
    (libsndfile would silently turn those into zeros and full-scale samples).
    """
    path = Path(path)
    try:
        with sf.SoundFile(os.fsencode(path)) as f:  # bytes: names need not be UTF-8
            sr = f.samplerate
            if f.subtype in _FLOAT_SUBTYPES:
                require_finite(f.read(dtype="float32", always_2d=True), path)
                f.seek(0)
            data = f.read(dtype="int16", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError, EOFError) as exc:
        raise KwspotError(f"{path}: cannot read audio ({_short(exc)})") from None
    if data.shape[1] != 1 or sr != sample_rate:
        if not resample:
            what = []
            if sr != sample_rate:
                what.append(f"{sr} Hz instead of {sample_rate} Hz")
            if data.shape[1] != 1:
                what.append(f"{data.shape[1]} channels instead of mono")
            raise KwspotError(f"{path}: {' and '.join(what)} (turn on `resample` to convert)")
        if sr != sample_rate:
            resample_rate(sr, path)
        return _convert(data, sr, sample_rate)
    return data[:, 0]


def resample_rate(rate: int, source: Path | str) -> int:
    """``rate`` when audio at that rate can be resampled (1 kHz to 768 kHz: a file claiming
    another rate is broken, and resampling it would need an absurdly long filter)."""
    if not MIN_RATE <= rate <= MAX_RATE:
        raise KwspotError(f"{source}: sample rate {rate:,} Hz is outside what can be "
                          f"resampled ({MIN_RATE:,} to {MAX_RATE:,} Hz)")
    return rate


def require_finite(samples: np.ndarray, source: Path | str, start: int = 0) -> None:
    """Raise a :class:`KwspotError` naming ``source`` when ``samples`` (``[frames]`` or
    ``[frames, channels]``, beginning at frame ``start`` of the file) hold NaN or infinity."""
    finite = np.isfinite(samples)
    if not finite.all():
        frames = finite.reshape(len(samples), -1).all(axis=1)
        first = start + int(np.argmin(frames))
        raise KwspotError(f"{source}: audio holds non-finite samples (NaN or infinity; "
                          f"first at sample {first:,})")


def fit_length(x: np.ndarray, length: int = CLIP_SAMPLES) -> np.ndarray:
    """Zero-pad at the end or crop the middle so that ``len(x) == length``."""
    if len(x) >= length:
        start = (len(x) - length) // 2
        return x[start:start + length]
    return np.pad(x, (0, length - len(x)))


def read_clip(path: Path | str, *, resample: bool = False,
              length: int = CLIP_SAMPLES) -> np.ndarray:
    """Read one clip as ``int16[length]`` (shorter clips zero-padded, longer ones cropped)."""
    return fit_length(read_audio(path, resample=resample), length)


def _convert(data: np.ndarray, sr: int, target: int) -> np.ndarray:
    from math import gcd

    from scipy.signal import resample_poly

    mono = data.astype(np.float32).mean(axis=1)
    if sr != target:
        g = gcd(sr, target)
        mono = resample_poly(mono, target // g, sr // g)
    return np.clip(np.round(mono), -32768, 32767).astype(np.int16)


def _short(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    return msg[-1] if msg else type(exc).__name__
