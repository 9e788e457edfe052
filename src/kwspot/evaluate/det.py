"""Detection error trade-off: recall against false alarms per hour over a sweep of thresholds,
computed from stored posteriors (the model runs once; each threshold is a pass over arrays).

Each word is swept as if it were detected alone, the way a wake-word detector is run: a word
fires on the first hop its smoothed score reaches the threshold, once per crossing, and not
again within the refractory period (the rules of :class:`~kwspot.infer.detector.
StreamingDetector` for one word). With several words the real detector also keeps one word's
refractory period from another's detections; :mod:`kwspot.evaluate.operating` measures that
exactly at one operating point.

Positives are clips holding one word each (a hit: the word fires anywhere in the clip) or a
recording with its ground truth (a hit: a detection matched to an event, as in
:mod:`kwspot.evaluate.scoring`). False alarms are every detection in negative audio.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from math import ceil

import numpy as np

from kwspot.evaluate.longaudio import TruthEvent
from kwspot.evaluate.posteriors import Posteriors
from kwspot.evaluate.scoring import score_detections

# Thresholds of a sweep: every 0.01 over (0, 1), finer towards 1 where low false-alarm rates
# live (a coarser grid understates recall at a false-alarm budget: it skips thresholds).
SWEEP = np.unique(np.round(np.concatenate([np.linspace(0.01, 0.99, 99),
                                           1.0 - np.geomspace(0.04, 1e-5, 25)]), 7))


@dataclass(frozen=True)
class Timing:
    """What turns posteriors into decisions (in windows of one hop)."""

    hop: int  # samples between windows
    clip: int  # samples in a window
    sample_rate: int
    smooth: int  # windows averaged into a score
    refractory: int  # windows after a detection in which the word cannot fire again
    lookahead: int = 0  # samples past a window's end its posteriors have heard

    @classmethod
    def of(cls, sample_rate: int, clip: int, hop: int, smooth_ms: float,
           refractory_ms: float, lookahead: int = 0) -> Timing:
        """The detector's rounding of its millisecond settings (``hop`` in samples)."""
        refractory = round(refractory_ms * sample_rate / 1000)
        return cls(hop, clip, sample_rate, max(1, round(smooth_ms * sample_rate / 1000 / hop)),
                   ceil(refractory / hop), lookahead)

    def time_s(self, end: int) -> float:
        """The detector's estimate of the time of a word that fires on the window ending at
        stream position ``end`` (timed from the end of the audio heard)."""
        return max(0.0, (end + self.lookahead - self.clip / 2 - (self.smooth - 1) * self.hop / 2)
                   / self.sample_rate)


def smooth(probs: np.ndarray, n: int) -> np.ndarray:
    """Moving average over ``n`` rows (the first rows average what there is), float64."""
    p = np.asarray(probs, dtype=np.float64)
    if n <= 1 or len(p) == 0:
        return p.copy()
    c = np.concatenate([np.zeros((1, *p.shape[1:])), np.cumsum(p, axis=0)])
    k = np.arange(1, len(p) + 1)
    lo = np.maximum(0, k - n)
    return (c[k] - c[lo]) / (k - lo).reshape(-1, *([1] * (p.ndim - 1)))


def firing_rows(score: np.ndarray, threshold: float, refractory: int) -> np.ndarray:
    """Windows at which one word fires: the first window of each run at or over
    ``threshold``, or the first window of the run after a refractory period ends in it."""
    over = score >= threshold
    if not over.any():
        return np.zeros(0, dtype=np.int64)
    edges = np.diff(np.concatenate([[False], over, [False]]).astype(np.int8))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    out: list[int] = []
    quiet = 0
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        r = max(a, quiet)
        if r < b:
            out.append(r)
            quiet = r + refractory
    return np.asarray(out, dtype=np.int64)


@dataclass
class NegativeScores:
    """Smoothed word scores of all negative files, end to end with gaps that reset the
    detector between files. A file that may hold a word (``excluded``) does not count for
    that word: its scores are -inf there and its duration is left out of that word's hours."""

    scores: np.ndarray  # float64 [windows, words]
    hours: np.ndarray  # per word: hours of audio that counts for it
    files: int

    @classmethod
    def build(cls, posteriors: Sequence[Posteriors], word_index: Sequence[int],
              timing: Timing, excluded: Sequence[Sequence[int]] = ()) -> NegativeScores:
        """``excluded[i]``: positions in ``word_index`` of the words file ``i`` may hold."""
        gap = np.full((timing.refractory + 1, len(word_index)), -np.inf)
        parts: list[np.ndarray] = []
        seconds = np.zeros(len(word_index))
        for i, p in enumerate(posteriors):
            s = smooth(p.probs, timing.smooth)[:, list(word_index)]
            skip = list(excluded[i]) if i < len(excluded) else []
            s[:, skip] = -np.inf
            counts = np.ones(len(word_index), dtype=bool)
            counts[skip] = False
            seconds += p.audio_s * counts
            parts += [s, gap]
        scores = np.concatenate(parts) if parts else np.zeros((0, len(word_index)))
        return cls(scores, seconds / 3600.0, len(posteriors))

    def false_alarms(self, word: int, threshold: float, refractory: int) -> int:
        return len(firing_rows(self.scores[:, word], threshold, refractory))


@dataclass
class ClipPositives:
    """Clips that each hold one word once: for each word, every clip's highest score."""

    peaks: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, word: str, p: Posteriors, index: int, timing: Timing) -> None:
        peak = float(smooth(p.probs[:, index], timing.smooth).max(initial=0.0))
        self.peaks[word] = np.append(self.peaks.get(word, np.zeros(0)), peak)

    def events(self, word: str) -> int:
        return len(self.peaks.get(word, ()))

    def hits(self, word: str, threshold: float) -> int:
        return int((self.peaks.get(word, np.zeros(0)) >= threshold).sum())


@dataclass
class RecordingPositives:
    """A recording with its ground truth: each word's scores over it."""

    scores: dict[str, np.ndarray]
    truth: list[TruthEvent]
    timing: Timing
    audio_s: float
    ends: np.ndarray  # stream position where each window ends
    tolerance_s: float = 0.5

    @classmethod
    def build(cls, p: Posteriors, truth: list[TruthEvent], words: dict[str, int],
              timing: Timing, tolerance_s: float = 0.5) -> RecordingPositives:
        smoothed = smooth(p.probs, timing.smooth)
        return cls({w: smoothed[:, i] for w, i in words.items()}, truth, timing, p.audio_s,
                   p.window_ends(timing.hop), tolerance_s)

    def events(self, word: str) -> int:
        return sum(e.kind == "command" and e.label == word for e in self.truth)

    def hits(self, word: str, threshold: float) -> int:
        rows = firing_rows(self.scores[word], threshold, self.timing.refractory)
        dets = [(self.timing.time_s(int(self.ends[r])), word) for r in rows]
        return score_detections(dets, self.truth, [word], self.audio_s,
                                self.tolerance_s).per_word[word].hits


@dataclass
class DetCurve:
    """Recall and false alarms of one word (or all) at each threshold of a sweep."""

    word: str
    thresholds: np.ndarray
    hits: np.ndarray
    positives: int
    false_alarms: np.ndarray
    fa_per_hour: np.ndarray  # all words: the sum of the words' rates
    hours: float  # of negative audio (all words: the most any word had)

    @property
    def recall(self) -> np.ndarray:
        return self.hits / self.positives if self.positives else np.full(len(self.hits), np.nan)

    def recall_at(self, max_fa_per_hour: float) -> float:
        """The best recall of a threshold of the sweep with at most this many false alarms per
        hour (a threshold chosen on the measured audio itself: an optimistic figure)."""
        ok = self.fa_per_hour <= max_fa_per_hour
        return float(self.recall[ok].max()) if ok.any() else 0.0

    def to_dict(self) -> dict:
        return {"word": self.word, "positives": self.positives, "hours": self.hours,
                "thresholds": self.thresholds.tolist(), "hits": self.hits.tolist(),
                "false_alarms": self.false_alarms.tolist(),
                "recall": [round(float(r), 6) for r in self.recall],
                "fa_per_hour": [round(float(f), 4) for f in self.fa_per_hour]}


def sweep(words: Sequence[str], negatives: NegativeScores,
          positives: Sequence[ClipPositives | RecordingPositives], refractory: int,
          thresholds: np.ndarray = SWEEP) -> list[DetCurve]:
    """One :class:`DetCurve` per word, then ``all``: hits, false alarms and false-alarm
    rates of every word at the same threshold added up."""
    curves = []
    for j, w in enumerate(words):
        hits = np.array([sum(p.hits(w, t) for p in positives) for t in thresholds])
        fas = np.array([negatives.false_alarms(j, t, refractory) for t in thresholds])
        h = float(negatives.hours[j])
        rate = fas / h if h else np.full(len(thresholds), np.nan)
        curves.append(DetCurve(w, thresholds, hits, sum(p.events(w) for p in positives), fas,
                               rate, h))
    curves.append(DetCurve("all", thresholds, sum(c.hits for c in curves),
                           sum(c.positives for c in curves),
                           sum(c.false_alarms for c in curves),
                           sum(c.fa_per_hour for c in curves),
                           max((c.hours for c in curves), default=0.0)))
    return curves


def pool_curves(runs: Sequence[Sequence[DetCurve]]) -> list[DetCurve]:
    """Curves of several measurements on disjoint audio (e.g. the two halves of a
    cross-calibration) as one: hits, positives, false alarms and hours added up per word."""
    words = [c.word for c in runs[0] if c.word != "all"]
    pooled = []
    for j, w in enumerate(words):
        cs = [r[j] for r in runs]
        hours = sum(c.hours for c in cs)
        fas = sum(c.false_alarms for c in cs)
        pooled.append(DetCurve(w, cs[0].thresholds, sum(c.hits for c in cs),
                               sum(c.positives for c in cs), fas,
                               fas / hours if hours else np.full(len(fas), np.nan), hours))
    pooled.append(DetCurve("all", pooled[0].thresholds, sum(c.hits for c in pooled),
                           sum(c.positives for c in pooled),
                           sum(c.false_alarms for c in pooled),
                           sum(c.fa_per_hour for c in pooled),
                           max(c.hours for c in pooled)))
    return pooled
