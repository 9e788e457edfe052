"""DET plot: recall against false alarms per hour (log scale), one line per word."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kwspot.evaluate.det import DetCurve


def plot_det(curves: Sequence[DetCurve], path: Path | str, *, title: str = "",
             marks: dict[str, tuple[float, float]] | None = None) -> Path:
    """Write a PNG of ``curves`` (``all`` drawn thick). ``marks`` puts a labelled point
    (false alarms per hour, recall) on the plot, e.g. the operating point. Zero false alarms
    are drawn at the left edge (a tenth of the lowest measurable rate)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    hours = max((c.hours for c in curves), default=0.0)
    floor = 0.1 / hours if hours else 0.01
    fig = Figure(figsize=(7.5, 5.0), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for c in curves:
        if not c.positives:
            continue
        x = np.maximum(c.fa_per_hour, floor)
        order = np.argsort(x, kind="stable")
        bold = c.word == "all"
        ax.plot(x[order], c.recall[order], lw=2.6 if bold else 1.0, color="black" if bold
                else None, label=c.word, zorder=3 if bold else 2)
    for name, (fa, recall) in (marks or {}).items():
        ax.plot([max(fa, floor)], [recall], marker="o", ms=7, color="crimson", zorder=4)
        ax.annotate(name, (max(fa, floor), recall), textcoords="offset points", xytext=(6, -12),
                    fontsize=8, color="crimson")
    ax.axvline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_xlim(floor / 1.5, None)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"false alarms per hour ({hours:.2f} h of negative audio; left edge: none)")
    ax.set_ylabel("recall")
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, ncol=2, loc="lower right")
    else:  # no word was spoken in the positives: there is no recall to draw
        ax.text(0.5, 0.5, "no positives: recall undefined", transform=ax.transAxes,
                ha="center", va="center", color="grey")
    if title:
        ax.set_title(title, fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
