"""The summary of a training run: curves from ``metrics.jsonl`` and its best row."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from kwspot.errors import KwspotError
from kwspot.plots import best_index, plot_curves
from kwspot.trainlog import HEADER, LogRow, read_metrics


@dataclass(frozen=True)
class RunReport:
    run_dir: Path
    rows: list[dict[str, Any]]
    best: LogRow | None  # highest valid_acc after iteration 0
    fine: bool  # rows logged at intervals that are not multiples of 100 (3-decimal iter_k)
    png: Path | None = None

    def format_best(self) -> str:
        """The seed's header and the best row in its format."""
        if self.best is None:
            return "no row after iteration 0 yet"
        return f"{HEADER}\n{self.best.format(self.fine)}"


def load_run(run_dir: Path | str) -> RunReport:
    """Rows and best row of the run in ``run_dir`` (its ``metrics.jsonl``)."""
    run_dir = Path(run_dir)
    path = run_dir / "metrics.jsonl" if run_dir.is_dir() else run_dir
    if not path.is_file():
        raise KwspotError(f"{path}: no such file (is {run_dir} a kwspot run folder?)")
    try:
        rows = read_metrics(path)
    except (ValueError, KeyError) as exc:
        raise KwspotError(f"{path}: not a kwspot metrics file ({type(exc).__name__})") from None
    if not rows:
        raise KwspotError(f"{path}: no rows yet")
    names = {f.name for f in fields(LogRow)}
    i = best_index(rows)
    best = LogRow(**{k: v for k, v in rows[i].items() if k in names}) if i is not None else None
    fine = any(r["iter"] % 100 for r in rows)
    return RunReport(path.parent, rows, best, fine)


def report_run(run_dir: Path | str, out: Path | str | None = None) -> RunReport:
    """Plot the curves of a run to ``out`` (default ``RUN_DIR/curves.png``)."""
    rep = load_run(run_dir)
    png = Path(out) if out else rep.run_dir / "curves.png"
    last = rep.rows[-1]
    title = f"{rep.run_dir.name}: {len(rep.rows)} rows, {last['iter']:,} iterations"
    plot_curves(rep.rows, png, title=title)
    return RunReport(rep.run_dir, rep.rows, rep.best, rep.fine, png)
