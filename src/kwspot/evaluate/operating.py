"""Recall and false alarms at one operating point, exactly as the streaming detector decides
with all words at once (their shared refractory period included), replayed on stored
posteriors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

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

    hours: float  # of negative audio
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

    def fa_per_hour(self, word: str | None = None) -> float:
        c = self.total if word is None else self.per_word[word]
        return c.false_alarms / self.hours if self.hours else float("nan")

    def to_dict(self) -> dict:
        rows = {**self.per_word, "all": self.total}
        return {"hours": self.hours, "recording_false_alarms": self.recording_false_alarms,
                "per_word": {w: {"positives": c.positives, "hits": c.hits,
                                 "recall": c.recall, "false_alarms": c.false_alarms,
                                 "fa_per_hour": c.false_alarms / self.hours if self.hours
                                 else None} for w, c in rows.items()}}


def measure(model: StoredModel, config: DetectorConfig, negatives: Sequence[Posteriors],
            clips: Sequence[tuple[str, Posteriors]],
            recordings: Sequence[tuple[Posteriors, list[TruthEvent]]],
            tolerance_s: float = 0.5) -> OperatingResult:
    """Replay every file through a :class:`StreamingDetector` with ``config``."""
    det = StreamingDetector(model, config)
    res = OperatingResult(sum(p.audio_s for p in negatives) / 3600.0,
                          {w: WordCounts() for w in det.words})
    for p in negatives:
        for d in det.replay(p.probs):
            res.per_word[d.word].false_alarms += 1
    for word, p in clips:
        if word in res.per_word:
            res.per_word[word].positives += 1
            res.per_word[word].hits += any(d.word == word for d in det.replay(p.probs))
    for p, truth in recordings:
        found = [(d.time_s, d.word) for d in det.replay(p.probs)]
        s = score_detections(found, truth, det.words, p.audio_s, tolerance_s)
        for w, ws in s.per_word.items():
            res.per_word[w].positives += ws.events
            res.per_word[w].hits += ws.hits
        res.recording_false_alarms += s.total.false_alarms
    return res
