"""The operating point a model was calibrated for: per-word thresholds and the detector
settings they were chosen with, stored inside the model so that detection uses them by default.

A checkpoint keeps it as the plain dict ``operating_point``; an exported ONNX file keeps the
same dict under ``operating_point`` in its ``kwspot`` JSON metadata.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from kwspot.errors import KwspotError
from kwspot.infer.detector import DetectorConfig


@dataclass(frozen=True)
class OperatingPoint:
    """Per-word thresholds chosen for a target false-alarm rate, and how."""

    thresholds: dict[str, float]  # smoothed posterior each word must reach
    smooth_ms: float  # the detector settings the thresholds hold for
    hop_ms: float
    refractory_ms: float
    target_fa_per_hour: float | None = None  # what the calibration aimed at (all words together)
    calibrated_on: list[str] = field(default_factory=list)  # the negative audio it was chosen on
    calibration_hours: float = 0.0  # how much of it
    measured_fa_per_hour: float | None = None  # false alarms per hour on that audio
    # Phonetic confirmation the thresholds were chosen with (:mod:`kwspot.infer.confirm`).
    confirm: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of numbers, strings and lists (safe in a checkpoint and in JSON)."""
        return json.loads(json.dumps(asdict(self)))  # numpy scalars become plain floats

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "model") -> OperatingPoint:
        known = {f.name for f in fields(cls)}
        try:
            op = cls(**{k: v for k, v in data.items() if k in known})
            thresholds = {str(w): float(v) for w, v in op.thresholds.items()}
        except (TypeError, ValueError, AttributeError) as exc:
            raise KwspotError(f"{where}: unreadable operating point ({exc})") from None
        if op.confirm is not None:
            from kwspot.infer.confirm import Confirmation

            Confirmation.from_dict(op.confirm, where)  # one line when it is damaged
        return cls(**{**asdict(op), "thresholds": thresholds})

    def confirmation(self):  # noqa: ANN201 (a Confirmation, or None)
        """The phonetic confirmation detection runs with at this operating point, if any."""
        from kwspot.infer.confirm import Confirmation

        return None if self.confirm is None else Confirmation.from_dict(self.confirm)

    def detector_config(self, **overrides: Any) -> DetectorConfig:
        """The detector settings of this operating point, with ``overrides`` applied."""
        base = {"hop_ms": self.hop_ms, "smooth_ms": self.smooth_ms,
                "refractory_ms": self.refractory_ms, "thresholds": dict(self.thresholds)}
        return DetectorConfig(**{**base, **overrides})

    def describe(self) -> str:
        """One line: thresholds, target and the audio they were calibrated on."""
        values = set(self.thresholds.values())
        words = (f"every word {values.pop():.4g}" if len(self.thresholds) > 1 and
                 len(values) == 1 else
                 ",".join(f"{w}={t:.4g}" for w, t in self.thresholds.items()))
        target = (f"target {self.target_fa_per_hour:g} false alarms/h, "
                  if self.target_fa_per_hour is not None else "")
        on = ", ".join(self.calibrated_on) or "unrecorded audio"
        conf = self.confirmation()
        return (f"calibrated ({target}{self.calibration_hours:.2f} h of {on}; "
                f"smoothing {self.smooth_ms:g} ms, hop {self.hop_ms:g} ms): {words}"
                + (f"; {conf.describe()}" if conf is not None else ""))


def model_operating_point(classifier: object) -> OperatingPoint | None:
    """The operating point stored in a loaded model (checkpoint or ONNX), if any."""
    stored = getattr(classifier, "operating_point", None)
    if not stored:
        return None
    return OperatingPoint.from_dict(stored, getattr(classifier, "source", "model"))
