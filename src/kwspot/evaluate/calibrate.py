"""Choosing thresholds for a target rate of false alarms on negative audio, and keeping the
audio they are chosen on apart from the audio they are measured on.

The target is for all words together. By default every word gets the same threshold: the
lowest at which all words together fire at most ``target × hours`` times on the calibration
audio. Per word (``per_word``), each word gets an equal share of the target and its own
threshold, the lowest at which it fires at most ``share × hours`` times (with less than an
hour of audio and a small target: never). Thresholds are found among the peaks of the scores,
so they are exact for that audio rather than points of a grid, and are never below
:data:`FLOOR` (:data:`CONFIRMED_FLOOR` when a second detector confirms every detection).

Why one threshold by default: a threshold placed just above the ``k``-th highest peak of the
calibration audio lets through, on as much new audio, about ``k + 1`` false alarms in
expectation (the new audio's peaks fall above it as often as below it). Per word that "+ 1"
is paid once per word, one threshold pays it once: with ten words and under an hour of
calibration audio, per-word thresholds chosen for 1 false alarm per hour measured 3-9 per hour
on the other half of the audio, one threshold about 2 (BENCHMARKS.md, streaming detection).
Per-word thresholds pay off with many hours of calibration audio per word.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from math import floor
from pathlib import Path

import numpy as np

from kwspot.evaluate.det import NegativeScores

MARGIN = 1e-6  # a threshold sits this far above the highest score it must not reach
FLOOR = 0.5  # the lowest threshold chosen: the word at least as likely as all else together
# The lowest for phonetically confirmed scores (kwspot.infer.confirm): a window only scores
# where the keyphrase search also found the word, so a less confident model may decide. On
# the two wake words of the benchmark (one fold), 0.3 kept 3-5 points of recall that 0.5 lost,
# with no false alarm more on the measured half.
CONFIRMED_FLOOR = 0.3


def split_key(path: Path | str) -> str:
    """Files whose names share the part before the first ``_`` (a speaker or session in
    most corpora) stay on the same side of a split."""
    return Path(path).name.split("_", 1)[0]


def split_files(files: Sequence[Path], salt: str = "calibration") -> tuple[list[Path],
                                                                           list[Path]]:
    """``(calibration, measurement)``: about half of the files each, by a hash of
    :func:`split_key` (the same file always lands on the same side)."""
    cal: list[Path] = []
    meas: list[Path] = []
    for f in files:
        h = int(hashlib.sha1(f"{salt}:{split_key(f)}".encode()).hexdigest(), 16) % 2
        (cal if h == 0 else meas).append(f)
    return cal, meas


def peaks_desc(score: np.ndarray, limit: int) -> np.ndarray:
    """The ``limit`` highest distinct local maxima of ``score``, highest first."""
    s = score[np.isfinite(score)]
    if len(s) == 0:
        return np.zeros(0)
    left = np.concatenate([[-np.inf], s[:-1]])
    right = np.concatenate([s[1:], [-np.inf]])
    peaks = np.unique(s[(s >= left) & (s >= right)])[::-1]
    return peaks[:limit]


def word_threshold(negatives: NegativeScores, word: int, allowed: int,
                   refractory: int, lowest: float = FLOOR) -> float:
    """The lowest threshold just above a peak of the word's score with at most ``allowed``
    false alarms on ``negatives``, between ``lowest`` and 1.0 (1.0 when no audio counts
    for the word)."""
    if not negatives.hours[word]:
        return 1.0
    peaks = peaks_desc(negatives.scores[:, word], allowed + 64)
    peaks = peaks[peaks >= lowest]
    best = float(peaks[0]) + MARGIN if len(peaks) else lowest
    for p in peaks[1:]:
        t = float(p) + MARGIN
        if negatives.false_alarms(word, t, refractory) > allowed:
            break
        best = t
    if len(peaks) and negatives.false_alarms(word, lowest, refractory) <= allowed:
        best = lowest
    return min(1.0, best)


def fa_per_hour(negatives: NegativeScores, words: Sequence[int], threshold: float,
                refractory: int) -> float:
    """False alarms per hour of the ``words`` (positions) together at one threshold."""
    return sum(negatives.false_alarms(j, threshold, refractory) / negatives.hours[j]
               for j in words)


def shared_threshold(negatives: NegativeScores, target_fa_per_hour: float,
                     refractory: int, lowest: float = FLOOR) -> float:
    """The lowest threshold just above a peak of any word's score at which all words
    together raise at most ``target_fa_per_hour`` false alarms per hour on ``negatives``,
    between ``lowest`` and 1.0 (1.0 when no audio counts for any word)."""
    words = [j for j, h in enumerate(negatives.hours) if h]
    if not words:
        return 1.0
    allowed = floor(target_fa_per_hour * float(negatives.hours.max()) + 1e-9)
    peaks = np.unique(np.concatenate([peaks_desc(negatives.scores[:, j], allowed + 64)
                                      for j in words]))[::-1]
    peaks = peaks[peaks >= lowest]
    best = float(peaks[0]) + MARGIN if len(peaks) else lowest
    for p in peaks[1:]:
        t = float(p) + MARGIN
        if fa_per_hour(negatives, words, t, refractory) > target_fa_per_hour + 1e-9:
            break
        best = t
    if len(peaks) and fa_per_hour(negatives, words, lowest, refractory) <= \
            target_fa_per_hour + 1e-9:
        best = lowest
    return min(1.0, best)


def calibrate_thresholds(words: Sequence[str], negatives: NegativeScores,
                         target_fa_per_hour: float, refractory: int, *,
                         per_word: bool = False, lowest: float = FLOOR) -> dict[str, float]:
    """Thresholds (one per word, the same for all unless ``per_word``; none below
    ``lowest``) so that all words together raise about ``target_fa_per_hour`` false alarms
    per hour on ``negatives`` (at most that, up to the cap of 1.0)."""
    if not per_word:
        t = shared_threshold(negatives, target_fa_per_hour, refractory, lowest)
        return {w: t if negatives.hours[j] else 1.0 for j, w in enumerate(words)}
    share = target_fa_per_hour / max(1, len(words))
    return {w: word_threshold(negatives, j, floor(share * negatives.hours[j] + 1e-9), refractory,
                                lowest)
            for j, w in enumerate(words)}
