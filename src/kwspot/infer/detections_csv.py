"""Detections as CSV rows (``kwspot detect --csv``)."""

from __future__ import annotations

from kwspot.infer.detector import Detection
from kwspot.outputs import atomic_open


def write_detections_csv(path: str, detections: list[Detection]) -> None:
    """``time_s,word,confidence,decided_s`` rows, written atomically."""
    import csv

    with atomic_open(path, newline="") as f:
        w = csv.writer(f)
        w.writerow(["time_s", "word", "confidence", "decided_s"])
        for d in detections:
            w.writerow([f"{d.time_s:.3f}", d.word, f"{d.confidence:.4f}", f"{d.decided_s:.3f}"])
