"""What ``kwspot wakeword`` leaves in the run folder and tells its user: ``report.json`` (every
figure), ``det.png`` (recall against false alarms per hour) and the figures as text."""

from __future__ import annotations

import json
from pathlib import Path

from kwspot.evaluate.detplot import plot_det
from kwspot.evaluate.score import ScoreReport
from kwspot.evaluate.score_tables import describe_audio, format_score
from kwspot.wakeword.result import WakewordResult


def write_report(out: Path, labels: tuple[str, ...], window: int, files: dict[str, int],
                 report: ScoreReport, unconfirmed: ScoreReport | None = None) -> Path | None:
    """``report.json`` (with ``unconfirmed``: the same run without phonetic confirmation,
    under ``without_confirmation``), and ``det.png`` when there were positives; the plot's
    path."""
    data = {"labels": list(labels), "window_samples": window, "negative_files": files,
            **report.to_dict()}
    if unconfirmed is not None:
        data["without_confirmation"] = {k: v for k, v in unconfirmed.to_dict().items()
                                        if k in ("detector", "operating_point", "calibration",
                                                 "det")}
    (out / "report.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    t = report.operating.total
    if not t.positives:
        return None
    return Path(plot_det(report.curves, out / "det.png",
                         title=f"wake word {', '.join(report.words)}",
                         marks={"calibrated threshold": (report.operating.fa_per_hour(),
                                                         t.recall)}))


def summarize(result: WakewordResult) -> str:
    """The figures of a run, where its files are and how to use the model."""
    report = result.report
    lines = [f"window {result.window / 16000:g} s; negative files: "
             + ", ".join(f"{n} {part}" for part, n in result.files.items())
             + " (training windows, thresholds, measurement: never the same file)",
             describe_audio(report), "", format_score(report), ""]
    if result.det_plot is not None:
        lines.append(f"wrote {result.det_plot}")
    if report.calibration is not None:
        lines.append(f"operating point: {report.calibration.describe()}")
    if result.unconfirmed is not None:
        lines += ["", "the same model without phonetic confirmation, for comparison:",
                  format_score(result.unconfirmed), ""]
    lines += [f"wrote {result.checkpoint} and {result.onnx} (threshold inside) and "
              f"{result.out / 'report.json'}",
              f"run it: kwspot detect --model {result.onnx} AUDIO  |  "
              f"kwspot listen --model {result.onnx}"]
    return "\n".join(lines)
