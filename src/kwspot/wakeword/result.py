"""What one ``kwspot wakeword`` run produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kwspot.evaluate.score import ScoreReport


@dataclass
class WakewordResult:
    out: Path
    labels: tuple[str, ...]
    window: int  # samples per window
    checkpoint: Path
    onnx: Path
    report: ScoreReport  # measured on the measurement part
    files: dict[str, int] = field(default_factory=dict)  # negative files per part
    reused_model: bool = False
    det_plot: Path | None = None  # written when there were test recordings
    unconfirmed: ScoreReport | None = None  # with phonetic confirmation: the same run without
