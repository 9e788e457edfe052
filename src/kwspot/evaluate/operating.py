"""Recall and false alarms at one operating point, exactly as the streaming detector decides
with all words at once (their shared refractory period included), replayed on stored
posteriors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from kwspot.errors import KwspotError
from kwspot.evaluate.longaudio import TruthEvent
from kwspot.evaluate.posteriors import Posteriors
from kwspot.evaluate.scoring import score_detections
from kwspot.infer.detector import DetectorConfig, StreamingDetector


@dataclass(frozen=True)
class StoredModel:
    """Stands for the model whose posteriors are stored (it is never asked for more)."""

    labels: tuple[str, ...]
    sample_rate: int
    clip_samples: int
    source: str = "stored posteriors"
    lookahead: int = 0  # samples past a window's end its posteriors heard (a stream scorer's)
    confirm: dict | None = None  # the phonetic confirmation its posteriors were computed with

    def predict_proba(self, waves: np.ndarray) -> np.ndarray:
        raise KwspotError("stored posteriors cannot classify new audio")


@dataclass
class WordCounts:
    positives: int = 0
    hits: int = 0
    false_alarms: int = 0  # in negative audio

    @property
    def recall(self) -> float:
        return self.hits / self.positives if self.positives else float("nan")


@dataclass
class OperatingResult:
    """What the detector does at one setting on positives and negatives."""

    hours: dict[str, float]  # per word: hours of negative audio that count for it
    per_word: dict[str, WordCounts] = field(default_factory=dict)
    recording_false_alarms: int = 0  # unmatched detections in positive recordings

    @property
    def total(self) -> WordCounts:
        t = WordCounts()
        for c in self.per_word.values():
            t.positives += c.positives
            t.hits += c.hits
            t.false_alarms += c.false_alarms
        return t

    @property
    def most_hours(self) -> float:
        return max(self.hours.values(), default=0.0)

    def fa_per_hour(self, word: str | None = None) -> float:
        """One word's false alarms per hour, or (None) the sum over the words."""
        if word is None:
            return float(sum(self.fa_per_hour(w) for w in self.per_word))
        h = self.hours[word]
        return self.per_word[word].false_alarms / h if h else float("nan")

    def to_dict(self) -> dict:
        rows = {w: (c, self.hours[w], self.fa_per_hour(w)) for w, c in self.per_word.items()}
        rows["all"] = (self.total, self.most_hours, self.fa_per_hour())
        return {"recording_false_alarms": self.recording_false_alarms,
                "per_word": {w: {"positives": c.positives, "hits": c.hits, "recall": c.recall,
                                 "false_alarms": c.false_alarms, "hours": h, "fa_per_hour": r}
                             for w, (c, h, r) in rows.items()}}


def measure(model: StoredModel, config: DetectorConfig, negatives: Sequence[Posteriors],
            clips: Sequence[tuple[str, Posteriors]],
            recordings: Sequence[tuple[Posteriors, list[TruthEvent]]],
            tolerance_s: float = 0.5,
            excluded: Sequence[frozenset[str]] = ()) -> OperatingResult:
    """Replay every file through a :class:`StreamingDetector` with ``config``; in negative
    file ``i`` the words of ``excluded[i]`` are not detected (the file may hold them)."""
    det = StreamingDetector(model, config)
    res = OperatingResult({w: 0.0 for w in det.words}, {w: WordCounts() for w in det.words})
    detectors: dict[frozenset[str], StreamingDetector] = {frozenset(): det}
    for i, p in enumerate(negatives):
        skip = excluded[i] if i < len(excluded) else frozenset()
        words = tuple(w for w in det.words if w not in skip)
        for w in words:
            res.hours[w] += p.audio_s / 3600.0
        if not words:
            continue
        if skip not in detectors:
            detectors[skip] = StreamingDetector(model, replace(config, words=words))
        for d in detectors[skip].replay(p.probs, p.ends):
            res.per_word[d.word].false_alarms += 1
    for word, p in clips:
        if word in res.per_word:
            res.per_word[word].positives += 1
            res.per_word[word].hits += any(d.word == word
                                           for d in det.replay(p.probs, p.ends))
    for p, truth in recordings:
        found = [(d.time_s, d.word) for d in det.replay(p.probs, p.ends)]
        s = score_detections(found, truth, det.words, p.audio_s, tolerance_s)
        for w, ws in s.per_word.items():
            res.per_word[w].positives += ws.events
            res.per_word[w].hits += ws.hits
        res.recording_false_alarms += s.total.false_alarms
    return res


def pool_results(results: Sequence[OperatingResult]) -> OperatingResult:
    """Several measurements on disjoint audio as one (counts and hours added up per word)."""
    out = OperatingResult({w: 0.0 for w in results[0].per_word},
                          {w: WordCounts() for w in results[0].per_word})
    for r in results:
        for w, c in r.per_word.items():
            out.hours[w] += r.hours[w]
            o = out.per_word[w]
            o.positives += c.positives
            o.hits += c.hits
            o.false_alarms += c.false_alarms
        out.recording_false_alarms += r.recording_false_alarms
    return out
