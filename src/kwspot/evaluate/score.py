"""Scoring a detector for use that never stops: recall on positives and false alarms per hour
on negative audio, over a sweep of thresholds and at the operating point in use, optionally
with thresholds calibrated for a target false-alarm rate.

>>> files = plan(["wakewords/computer"], ["speech_phone", "esc10"], ["computer"])
>>> audio = collect(clf, files, hop=320)
>>> report = score(audio, stored_model(clf), DetectorConfig(), calibrate_fa_per_hour=1.0)

With calibration, the negative files are split in two (:func:`~kwspot.evaluate.calibrate.
split_files`): thresholds are chosen on one half, and everything reported is measured on the
other.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from kwspot.errors import KwspotError
from kwspot.evaluate.calibrate import (
    CONFIRMED_FLOOR,
    FLOOR,
    calibrate_thresholds,
    split_files,
)
from kwspot.evaluate.det import (
    ClipPositives,
    DetCurve,
    NegativeScores,
    RecordingPositives,
    Timing,
    sweep,
)
from kwspot.evaluate.longaudio import TruthEvent, read_truth
from kwspot.evaluate.mining import write_hard_negatives
from kwspot.evaluate.operating import OperatingResult, StoredModel, measure
from kwspot.evaluate.posteriors import (
    Posteriors,
    Skipped,
    audio_files,
    many_posteriors,
    stream_hop,
)
from kwspot.evaluate.settings import ScoreSettings
from kwspot.infer.backend import Classifier, stream_scorer_of
from kwspot.infer.detector import NON_COMMANDS, DetectorConfig
from kwspot.infer.operating_point import OperatingPoint


@dataclass
class Collected:
    """Posteriors of every positive and negative file (the model has run once on each)."""

    clips: list[tuple[str, Posteriors]] = field(default_factory=list)  # (word, clip)
    recordings: list[tuple[Posteriors, list[TruthEvent]]] = field(default_factory=list)
    negatives: list[Posteriors] = field(default_factory=list)
    negative_sources: list[str] = field(default_factory=list)  # folders/files given
    skipped: list[Skipped] = field(default_factory=list)
    hop: int = 0
    excluded: dict[str, frozenset[str]] = field(default_factory=dict)  # file → words it may hold

    def split_negatives(self, salt: str = "calibration",
                        calibrate_on: Collection[str] | None = None
                        ) -> tuple[list[Posteriors], list[Posteriors]]:
        """``(calibration, measurement)`` halves of the negative files: ``calibrate_on`` and
        the others, or split by a hash of their names (:func:`split_files`)."""
        by_path = {p.source: p for p in self.negatives}
        if calibrate_on is not None:
            cal = [Path(s) for s in by_path if s in calibrate_on]
            meas = [Path(s) for s in by_path if s not in calibrate_on]
        else:
            cal, meas = split_files([Path(s) for s in by_path], salt)
        if not cal or not meas:
            raise KwspotError("calibration needs negative audio in at least two files (one "
                              "half to calibrate on, the other to measure on)")
        return [by_path[str(f)] for f in cal], [by_path[str(f)] for f in meas]


def stored_model(clf: Classifier) -> StoredModel:
    """What replaying ``clf``'s stored posteriors needs to know of it (its stream scorer's
    look-ahead included)."""
    scorer = stream_scorer_of(clf)
    confirmation = getattr(clf, "confirmation", None)
    return StoredModel(tuple(clf.labels), int(clf.sample_rate), int(clf.clip_samples),
                       clf.source, int(scorer.lag) if scorer is not None else 0,
                       confirmation.to_dict() if confirmation is not None else None)


def positive_files(path: Path, words: Sequence[str]) -> list[tuple[str, Path]]:
    """``(word, file)`` for a folder named after a word (its clips), a folder of such folders,
    or a recording (its ground truth beside it: same name, ``.csv``; word ``""``)."""
    if path.is_file():
        if not path.with_suffix(".csv").is_file():
            raise KwspotError(f"{path}: a recording needs its ground truth beside it "
                              f"({path.with_suffix('.csv').name}: start_s,end_s,label,kind)")
        return [("", path)]
    if not path.is_dir():
        raise KwspotError(f"{path}: no such file or folder")
    if path.name in words:
        return [(path.name, f) for f in audio_files([path])]
    found = [(d.name, f) for d in sorted(path.iterdir()) if d.is_dir() and d.name in words
             for f in audio_files([d])]
    if not found:
        raise KwspotError(f"{path}: no clips of the model's words ({', '.join(words)}): "
                          "give a folder named after a word or a folder of such folders")
    return found


@dataclass(frozen=True)
class Plan:
    """The files to score: positives as ``(word, file)`` (word ``""``: a recording)."""

    positives: list[tuple[str, Path]]
    negatives: list[Path]
    negative_sources: list[str]  # the folders/files given
    excluded: dict[str, frozenset[str]] = field(default_factory=dict)  # file → words it may hold

    def __len__(self) -> int:
        return len(self.positives) + len(self.negatives)


def plan(positives: Sequence[Path | str], negatives: Sequence[Path | str],
         words: Sequence[str], maybe: dict[str, Sequence[str]] | None = None) -> Plan:
    """Find the files (errors name a path that does not exist or holds nothing usable).
    ``maybe`` maps a negative folder or file to words it may hold: they are not counted there."""
    pos = [wf for p in positives for wf in positive_files(Path(p), words)]
    neg = audio_files(negatives)
    if not neg:
        raise KwspotError(f"no .wav/.flac files in {', '.join(map(str, negatives))}")
    excluded: dict[str, frozenset[str]] = {}
    for where, ws in (maybe or {}).items():
        unknown = sorted(set(ws) - set(words))
        if unknown:
            raise KwspotError(f"{where}: word(s) {', '.join(unknown)} are not scored words")
        inside = [f for f in neg if Path(where) in (f, *f.parents)]
        if not inside:
            raise KwspotError(f"{where}: not among the negative files")
        for f in inside:
            excluded[str(f)] = excluded.get(str(f), frozenset()) | frozenset(ws)
    return Plan(pos, neg, [str(n) for n in negatives], excluded)


def collect(clf: Classifier, files: Plan, hop: int, *,
            on_file: Callable[[], None] | None = None) -> Collected:
    """Run ``clf`` once over every file; unreadable files are kept in ``skipped``."""
    hop = stream_hop(clf, hop)
    out = Collected(negative_sources=files.negative_sources, hop=hop, excluded=files.excluded)
    out.negatives, out.skipped = many_posteriors(clf, files.negatives, hop, on_file=on_file)
    for word, f in files.positives:
        done, bad = many_posteriors(clf, [f], hop, on_file=on_file)
        out.skipped += bad
        for p in done:
            if word:
                out.clips.append((word, p))
            else:
                out.recordings.append((p, read_truth(f.with_suffix(".csv"))))
    return out


def command_words(labels: Sequence[str], config: DetectorConfig) -> tuple[str, ...]:
    """The words a detector with ``config`` reports."""
    return tuple(config.words or [w for w in labels if w not in NON_COMMANDS])


@dataclass
class ScoreReport:
    """Everything :func:`score` measured."""

    words: tuple[str, ...]
    config: DetectorConfig  # the operating point in use
    curves: list[DetCurve]  # one per word, then "all"
    operating: OperatingResult
    measured_on: list[str]  # negative files measured on
    calibration: OperatingPoint | None = None  # when thresholds were calibrated here
    calibrated_on: list[str] = field(default_factory=list)  # negative files calibrated on
    skipped: list[Skipped] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"words": list(self.words),
                "detector": {"hop_ms": self.config.hop_ms, "smooth_ms": self.config.smooth_ms,
                             "refractory_ms": self.config.refractory_ms,
                             "threshold": self.config.threshold,
                             "thresholds": self.config.thresholds},
                "operating_point": self.operating.to_dict(),
                "calibration": self.calibration.to_dict() if self.calibration else None,
                "calibration_files": self.calibrated_on, "measurement_files": self.measured_on,
                "det": [c.to_dict() for c in self.curves],
                "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped]}


class Scorer:
    """Scoring and calibration of one model's stored posteriors at one detector timing."""

    def __init__(self, audio: Collected, model: StoredModel, config: DetectorConfig,
                 tolerance_s: float = ScoreSettings.tolerance) -> None:
        # The posteriors' hop is the one the detector uses (an embedding model's own).
        config = replace(config, hop_ms=audio.hop * 1000 / model.sample_rate)
        self.audio, self.model, self.config, self.tolerance_s = audio, model, config, tolerance_s
        self.words = command_words(model.labels, config)
        self.index = {w: model.labels.index(w) for w in self.words}
        self.timing = Timing.of(model.sample_rate, model.clip_samples, audio.hop,
                                config.smooth_ms, config.refractory_ms, model.lookahead)
        positives: list[ClipPositives | RecordingPositives] = []
        if audio.clips:
            cp = ClipPositives()
            for w, p in audio.clips:
                if w in self.index:
                    cp.add(w, p, self.index[w], self.timing)
            positives.append(cp)
        positives += [RecordingPositives.build(p, t, self.index, self.timing, tolerance_s)
                      for p, t in audio.recordings]
        self.positives = positives

    def negative_scores(self, negatives: Sequence[Posteriors]) -> NegativeScores:
        pos = {w: j for j, w in enumerate(self.words)}
        excluded = [[pos[w] for w in self.audio.excluded.get(p.source, ()) if w in pos]
                    for p in negatives]
        return NegativeScores.build(negatives, list(self.index.values()), self.timing, excluded)

    def calibrate(self, negatives: Sequence[Posteriors], target: float, *,
                  per_word: bool = ScoreSettings.calibrate_per_word) -> OperatingPoint:
        """Thresholds for ``target`` false alarms per hour on ``negatives`` (see
        :func:`~kwspot.evaluate.calibrate.calibrate_thresholds`)."""
        if not negatives:
            raise KwspotError("no negative audio to calibrate on")
        neg = self.negative_scores(negatives)
        lowest = CONFIRMED_FLOOR if self.model.confirm else FLOOR
        th = calibrate_thresholds(self.words, neg, target, self.timing.refractory,
                                  per_word=per_word, lowest=lowest)
        rate = sum(neg.false_alarms(j, th[w], self.timing.refractory) / h
                   for j, (w, h) in enumerate(zip(self.words, neg.hours, strict=True)) if h)
        cfg = self.config
        return OperatingPoint(th, cfg.smooth_ms, cfg.hop_ms, cfg.refractory_ms, target,
                              list(self.audio.negative_sources),
                              round(float(neg.hours.max(initial=0.0)), 4), round(rate, 4),
                              self.model.confirm)

    def measure(self, negatives: Sequence[Posteriors], config: DetectorConfig | None = None,
                *, with_curves: bool = True) -> tuple[list[DetCurve], OperatingResult]:
        """DET curves (unless not wanted) and the operating point of ``config`` (default:
        this scorer's) on ``negatives`` and all positives."""
        if not negatives:
            raise KwspotError("no readable negative audio to measure on")
        curves = sweep(self.words, self.negative_scores(negatives), self.positives,
                       self.timing.refractory) if with_curves else []
        excluded = [self.audio.excluded.get(p.source, frozenset()) for p in negatives]
        op = measure(self.model, config or self.config, negatives, self.audio.clips,
                     self.audio.recordings, self.tolerance_s, excluded)
        return curves, op


    def mine(self, negatives: Sequence[Posteriors], threshold: float, out: Path | str
             ) -> list[Path]:
        """Write the windows of ``negatives`` where a word reaches ``threshold`` as clips
        (hard negatives for training; see :mod:`kwspot.evaluate.mining`)."""
        excluded = [self.audio.excluded.get(p.source, frozenset()) for p in negatives]
        return write_hard_negatives(negatives, self.index, {w: threshold for w in self.words},
                                    self.timing, out, excluded)


def score(audio: Collected, model: StoredModel, config: DetectorConfig, *,
          calibrate_fa_per_hour: float | None = ScoreSettings.calibrate,
          tolerance_s: float = ScoreSettings.tolerance,
          per_word: bool = ScoreSettings.calibrate_per_word,
          split_salt: str = "calibration",
          calibrate_on: Collection[str] | None = None) -> ScoreReport:
    """DET curves and the operating point on ``audio``; with ``calibrate_fa_per_hour``,
    thresholds (one for all words unless ``per_word``) calibrated on one half of the negative
    files (``calibrate_on``, else the split of ``split_salt``) and everything measured on the
    other."""
    scorer = Scorer(audio, model, config, tolerance_s)
    if calibrate_fa_per_hour is None:
        curves, op = scorer.measure(audio.negatives)
        return ScoreReport(scorer.words, scorer.config, curves, op,
                           [p.source for p in audio.negatives], skipped=list(audio.skipped))
    cal, meas = audio.split_negatives(split_salt, calibrate_on)
    calibration = scorer.calibrate(cal, calibrate_fa_per_hour, per_word=per_word)
    used = calibration.detector_config(words=config.words, batch=config.batch)
    curves, op = scorer.measure(meas, used)
    return ScoreReport(scorer.words, used, curves, op, [p.source for p in meas], calibration,
                       [p.source for p in cal], list(audio.skipped))
