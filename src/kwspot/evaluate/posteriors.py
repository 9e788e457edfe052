"""A model's posteriors over whole audio files, one window per hop, computed once and kept, so
that every threshold and smoothing can be tried on them without running the model again.

Windows are placed as the streaming detector places them (:mod:`kwspot.infer.detector`): the
stream starts with one window of zeros, a window ends every hop, and zeros are appended at the
end so that a word in the last second is heard. Files at another sample rate are resampled,
several channels averaged.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np

from kwspot.data.audio import is_audio_file, require_finite, resample_rate
from kwspot.errors import KwspotError
from kwspot.infer.backend import Classifier, scorer_hop, stream_scorer_of
from kwspot.infer.confirm import confirmed_scorer

TAIL_S = 1.5  # zeros appended after the audio (half a window plus the longest smoothing)


@dataclass
class Posteriors:
    """Posteriors of one file: row ``k`` is the window ending ``(k + 1) * hop`` samples into
    the stream."""

    source: str
    probs: np.ndarray  # float32 [windows, classes]
    audio_s: float  # duration of the file
    resampled_from: int | None = None  # the file's rate when it was not the model's
    ends: np.ndarray | None = None  # where each window ends (default: (k + 1) * hop)

    def window_ends(self, hop: int) -> np.ndarray:
        """Stream position (samples) at which each window ends."""
        return self.ends if self.ends is not None else hop * (1 + np.arange(len(self.probs)))


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


def audio_files(paths: Iterable[Path | str]) -> list[Path]:
    """The ``.wav``/``.flac`` files among ``paths`` and (recursively) in the folders among
    them, sorted within each folder; a path that does not exist is an error."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if is_audio_file(f))
        elif p.is_file():
            out.append(p)
        else:
            raise KwspotError(f"{p}: no such file or folder")
    return out


def read_mono(path: Path | str, sample_rate: int) -> tuple[np.ndarray, int]:
    """A whole file as float32 mono at ``sample_rate`` and its own rate; a one-line
    :class:`KwspotError` when it cannot be decoded or is empty."""
    import soundfile as sf
    from scipy.signal import resample_poly

    try:  # bytes: the name need not be UTF-8
        data, rate = sf.read(os.fsencode(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError, EOFError) as exc:
        msg = str(exc).strip().splitlines()
        raise KwspotError(f"{path}: cannot read audio ({msg[-1] if msg else 'unknown format'})"
                          ) from None
    if len(data) == 0:
        raise KwspotError(f"{path}: the file holds no audio samples")
    require_finite(data, path)
    x = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1)
    if rate != sample_rate:
        resample_rate(rate, path)
        g = gcd(rate, sample_rate)
        x = resample_poly(x.astype(np.float64), sample_rate // g, rate // g).astype(np.float32)
    return np.ascontiguousarray(x, dtype=np.float32), rate


def window_posteriors(classifier: Classifier, audio: np.ndarray, hop: int, *,
                      batch: int = 64) -> np.ndarray:
    """Posteriors ``[windows, classes]`` of the windows the streaming detector would classify
    on ``audio`` (float32 at the model's rate), :data:`TAIL_S` of zeros included."""
    clip = int(classifier.clip_samples)
    tail = round(TAIL_S * classifier.sample_rate)
    stream = np.concatenate([np.zeros(clip, np.float32), audio, np.zeros(tail, np.float32)])
    n = (len(stream) - clip) // hop
    views = np.lib.stride_tricks.sliding_window_view(stream, clip)
    starts = hop * (1 + np.arange(n))  # window k ends at clip + (k + 1) * hop
    rows = [np.asarray(classifier.predict_proba(np.ascontiguousarray(views[starts[i:i + batch]])),
                       dtype=np.float32) for i in range(0, n, batch)]
    return np.concatenate(rows) if rows else np.zeros((0, len(classifier.labels)), np.float32)


def stream_hop(classifier: Classifier, hop: int) -> int:
    """The hop the streaming detector really uses for ``classifier``: a model with its own
    stream scorer (an embedding model) classifies every multiple of the scorer's hop."""
    return scorer_hop(stream_scorer_of(classifier), hop)


def scorer_posteriors(scorer, audio: np.ndarray, hop: int, tail: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Posteriors and window ends from a model's own stream scorer, fed the audio (and
    ``tail`` zeros) as the streaming detector feeds it, keeping every window ending on a
    multiple of ``hop``."""
    scorer.reset()
    delay = getattr(scorer, "delay", 0)  # a confirmed scorer holds windows back this long
    extra = delay + scorer.hop if delay else 0
    stream = np.concatenate([audio, np.zeros(tail + scorer.lag + extra, np.float32)])
    probs, ends = [], []
    for i in range(0, len(stream), 16000 * 30):
        p, e = scorer.push(stream[i:i + 16000 * 30])
        if len(e):
            probs.append(p)
            ends.append(e)
    if not ends:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
    p, e = np.concatenate(probs), np.concatenate(ends)
    keep = (e // scorer.hop) % (hop // scorer.hop) == 0
    return p[keep].astype(np.float32), e[keep]


def file_posteriors(classifier: Classifier, path: Path | str, hop: int) -> Posteriors:
    """:func:`window_posteriors` of one audio file (errors name the file); a model with its
    own stream scorer gives its windows (see :func:`stream_hop`), confirmed when the model
    runs with phonetic confirmation (:mod:`kwspot.infer.confirm`)."""
    rate = int(classifier.sample_rate)
    audio, own_rate = read_mono(path, rate)
    resampled = own_rate if own_rate != rate else None
    scorer = confirmed_scorer(classifier, stream_scorer_of(classifier), shared=True)
    if scorer is not None:
        tail = round(TAIL_S * rate)
        probs, ends = scorer_posteriors(scorer, audio, scorer_hop(scorer, hop), tail)
        return Posteriors(str(path), probs, len(audio) / rate, resampled, ends)
    return Posteriors(str(path), window_posteriors(classifier, audio, hop), len(audio) / rate,
                      resampled)


def many_posteriors(classifier: Classifier, files: Iterable[Path], hop: int, *,
                    on_file: Callable[[], None] | None = None
                    ) -> tuple[list[Posteriors], list[Skipped]]:
    """Posteriors of every readable file; the unreadable ones are returned, not raised."""
    done: list[Posteriors] = []
    skipped: list[Skipped] = []
    for f in files:
        try:
            done.append(file_posteriors(classifier, f, hop))
        except KwspotError as exc:
            skipped.append(Skipped(str(f), str(exc)))
        if on_file:
            on_file()
    return done, skipped

