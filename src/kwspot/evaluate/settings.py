"""The settings of measuring models: ``kwspot evaluate`` (accuracy on clips) and ``kwspot
score`` (recall and false alarms on long audio). The functions that take them
(:func:`~kwspot.evaluate.runner.evaluate_classifier`, :func:`~kwspot.evaluate.score.score`)
default to these definitions."""

from __future__ import annotations

from dataclasses import dataclass, fields

from kwspot.errors import KwspotError, SettingError
from kwspot.infer.predict_settings import PredictSettings
from kwspot.settings import same_as, setting


@dataclass(frozen=True)
class EvaluateSettings:
    """How clips are classified for accuracy figures."""

    tta: bool = setting(False, "also average over shifted (±50, ±100 ms) and ±3 dB copies "
                        "of each clip")
    ensemble: bool = setting(False, "also evaluate the mean probabilities of all the models")
    batch_size: int = same_as({f.name: f for f in fields(PredictSettings)}["batch_size"])

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise SettingError("batch_size", f"must be positive, got {self.batch_size}")


@dataclass(frozen=True)
class ScoreSettings:
    """The calibration target and how detections are counted and mined."""

    calibrate: float | None = setting(
        None, "choose thresholds for this many false alarms per hour (all words together) on "
        "one half of the negatives; measure on the other", metavar="FA_PER_H")
    calibrate_per_word: bool = setting(
        False, "calibrate each word's own threshold on an equal share of the target (default: "
        "one threshold for all words, which holds the target better on a few hours of audio)")
    tolerance: float = setting(0.5, "a detection within this many seconds of a word's span "
                               "in a recording is a hit")
    mine_threshold: float = setting(0.5, "score at which a window is mined")

    def __post_init__(self) -> None:
        if self.calibrate is not None and not self.calibrate > 0:
            raise KwspotError(f"`calibrate` {self.calibrate}: must be a positive rate per hour")
