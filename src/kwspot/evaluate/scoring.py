"""Scoring streaming detections against a ground truth: hits, misses, false alarms per hour.

A detection of word ``w`` at time ``t`` is a hit when a not yet matched command event of the
same word spans ``t`` widened by ``tolerance_s`` on both sides (the nearest such event, by
its centre, is taken). Every other detection is a false alarm, counted for the detected word;
those that fall on another command word are also counted as substitutions. Command events no
detection matched are misses. Distractors (unknown words, silence) are never targets.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kwspot.evaluate.longaudio import TruthEvent


@dataclass
class WordScore:
    events: int = 0  # command events of this word in the truth
    hits: int = 0
    false_alarms: int = 0  # detections of this word that matched nothing
    substitutions: int = 0  # of which fell on a command event of another word

    @property
    def misses(self) -> int:
        return self.events - self.hits

    @property
    def recall(self) -> float:
        return self.hits / self.events if self.events else float("nan")


@dataclass
class StreamScore:
    duration_s: float
    per_word: dict[str, WordScore] = field(default_factory=dict)

    @property
    def total(self) -> WordScore:
        t = WordScore()
        for s in self.per_word.values():
            t.events += s.events
            t.hits += s.hits
            t.false_alarms += s.false_alarms
            t.substitutions += s.substitutions
        return t

    def fa_per_hour(self, word: str | None = None) -> float:
        s = self.total if word is None else self.per_word[word]
        return s.false_alarms * 3600.0 / self.duration_s if self.duration_s else float("nan")

    def table(self) -> str:
        """A per-word text table plus the total."""
        lines = [f"{'word':<10} {'events':>6} {'hits':>5} {'misses':>6} {'FA':>4} "
                 f"{'FA/h':>7} {'recall':>7}"]
        rows = [*self.per_word.items(), ("total", self.total)]
        for name, s in rows:
            fa_h = s.false_alarms * 3600.0 / self.duration_s if self.duration_s else 0.0
            lines.append(f"{name:<10} {s.events:>6} {s.hits:>5} {s.misses:>6} "
                         f"{s.false_alarms:>4} {fa_h:>7.1f} {s.recall:>7.3f}")
        return "\n".join(lines)


def score_detections(detections: Iterable[tuple[float, str]], truth: Sequence[TruthEvent],
                     words: Sequence[str], duration_s: float,
                     tolerance_s: float = 0.5) -> StreamScore:
    """Score ``(time_s, word)`` detections (any order) against ``truth`` for ``words``."""
    score = StreamScore(duration_s, {w: WordScore() for w in words})
    targets = [e for e in truth if e.kind == "command" and e.label in score.per_word]
    for e in targets:
        score.per_word[e.label].events += 1
    matched = [False] * len(targets)
    for t, word in sorted((float(t), w) for t, w in detections):
        if word not in score.per_word:
            continue
        best, best_dist = -1, float("inf")
        other_word = False
        for i, e in enumerate(targets):
            if not e.start_s - tolerance_s <= t <= e.end_s + tolerance_s:
                continue
            if e.label != word:
                other_word = True
                continue
            dist = abs(t - (e.start_s + e.end_s) / 2)
            if not matched[i] and dist < best_dist:
                best, best_dist = i, dist
        s = score.per_word[word]
        if best >= 0:
            matched[best] = True
            s.hits += 1
        else:
            s.false_alarms += 1
            s.substitutions += other_word
    return score
