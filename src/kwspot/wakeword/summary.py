"""What ``kwspot wakeword`` tells its user and leaves in the run folder: the figures as text,
``report.json`` (every figure) and ``det.png`` (recall against false alarms per hour)."""

from __future__ import annotations

import json

from kwspot.evaluate.detplot import plot_det
from kwspot.evaluate.score_tables import describe_audio, format_score
from kwspot.wakeword.pipeline import WakewordResult


def summarize(result: WakewordResult) -> str:
    """Write ``report.json`` and ``det.png`` into the run folder; the text to print."""
    report = result.report
    out = result.out
    data = {"labels": list(result.labels), "window_samples": result.window,
            "negative_files": result.files, **report.to_dict()}
    (out / "report.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    t = report.operating.total
    lines = [f"window {result.window / 16000:g} s; negative files: "
             + ", ".join(f"{n} {part}" for part, n in result.files.items())
             + " (training windows, thresholds, measurement: never the same file)",
             describe_audio(report), "", format_score(report), ""]
    if t.positives:
        plot_det(report.curves, out / "det.png", title=f"wake word {', '.join(report.words)}",
                 marks={"calibrated threshold": (report.operating.fa_per_hour(), t.recall)})
        lines.append(f"wrote {out / 'det.png'}")
    if report.calibration is not None:
        lines.append(f"operating point: {report.calibration.describe()}")
    lines += [f"wrote {result.checkpoint} and {result.onnx} (threshold inside) and "
              f"{out / 'report.json'}",
              f"run it: kwspot detect {result.onnx} AUDIO  |  kwspot listen {result.onnx}"]
    return "\n".join(lines)
