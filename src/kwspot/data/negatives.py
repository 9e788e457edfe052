"""Training windows cut from running audio that holds none of the command words (ordinary
speech, noise, the false alarms a model raised): every second of every file, from a random
offset, as a one-second clip for the ``unknown`` class.

Files at any sample rate are resampled, several channels averaged; files that cannot be
decoded are returned by name, not raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kwspot.data.audio import CLIP_SAMPLES, is_audio_file, read_audio
from kwspot.errors import KwspotError


@dataclass
class NegativeWindows:
    waves: np.ndarray  # int16 [N, CLIP_SAMPLES]
    sources: list[str]  # "negative:<file>@<sample>"
    skipped: list[str]  # files that could not be read, with the reason


def negative_files(folders: Sequence[str]) -> list[Path]:
    """The audio files in ``folders`` (recursively; a file may be given itself)."""
    files: list[Path] = []
    for name in folders:
        p = Path(name)
        if p.is_file():
            files.append(p)
        elif p.is_dir():
            files += sorted(f for f in p.rglob("*") if is_audio_file(f))
        else:
            raise KwspotError(f"negatives {p}: no such file or folder")
    if not files:
        raise KwspotError(f"negatives {', '.join(folders)}: no .wav/.flac files")
    return files


def cut_windows(x: np.ndarray, offset: int, length: int = CLIP_SAMPLES) -> np.ndarray:
    """Consecutive windows of ``length`` samples from ``offset`` (from 0 when the offset
    leaves less than one window; a file shorter than a window: one, zero-padded)."""
    if len(x) <= length:
        return np.pad(x, (0, length - len(x)))[None]
    if len(x) - offset < length:
        offset = 0
    n = (len(x) - offset) // length
    return x[offset:offset + n * length].reshape(n, length)


def negative_windows(folders: Sequence[str], seed: int = 0) -> NegativeWindows:
    """One-second windows of every file in ``folders``, each file from a random offset."""
    rng = np.random.default_rng(seed)
    waves: list[np.ndarray] = []
    sources: list[str] = []
    skipped: list[str] = []
    for f in negative_files(folders):
        try:
            x = read_audio(f, resample=True)
        except KwspotError as exc:
            skipped.append(str(exc))
            continue
        offset = int(rng.integers(CLIP_SAMPLES))
        w = cut_windows(x, offset)
        waves.append(w)
        sources += [f"negative:{f}@{offset + i * CLIP_SAMPLES}" for i in range(len(w))]
    if not waves:
        raise KwspotError(f"negatives {', '.join(folders)}: no readable audio "
                          f"({skipped[0] if skipped else 'empty'})")
    return NegativeWindows(np.concatenate(waves).astype(np.int16), sources, skipped)
