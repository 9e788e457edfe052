"""PNG figures with matplotlib's Agg canvas (no pyplot, no display): the confusion heat map
and the training curves of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np


class ConfusionResult(Protocol):
    """What :func:`plot_confusion` reads of an evaluation result (``evaluate.EvalResult``);
    a protocol, so this module needs nothing from ``evaluate`` (which imports it)."""

    confusion: Any
    labels: tuple[str, ...]
    info: dict[str, Any]
    accuracy: float
    count: int


def plot_confusion(result: ConfusionResult | np.ndarray, path: Path | str, *,
                   labels: tuple[str, ...] | None = None, title: str | None = None) -> Path:
    """Heat map of a confusion matrix (rows true, columns predicted) with the counts in the
    cells; the colour is the share of the true class, so rare classes read like common ones."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if isinstance(result, np.ndarray):
        cm = result
        labels = labels or tuple(str(i) for i in range(len(cm)))
    else:
        cm = result.confusion
        labels = labels or result.labels
        if title is None:
            title = f"{result.info.get('model', 'model')}: accuracy {result.accuracy:.4f} " \
                    f"({result.count} clips)"
    cm = np.asarray(cm)
    n = len(labels)
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=np.float64), where=rows > 0)
    size = max(5.0, 0.55 * n + 2.0)
    fig = Figure(figsize=(size + 1.2, size), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    im = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    for t in range(n):
        for p in range(n):
            if cm[t, p]:
                ax.text(p, t, str(int(cm[t, p])), ha="center", va="center", fontsize=8,
                        color="white" if share[t, p] > 0.5 else "black")
    ax.set_xticks(range(n), labels, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8, label="share of the true class")
    return _save(fig, path)


def plot_curves(rows: list[dict[str, Any]], path: Path | str, *, title: str | None = None
                ) -> Path:
    """Loss and accuracy, train vs validation, against iterations, side by side; the best
    validation accuracy is marked. ``rows`` are ``metrics.jsonl`` rows."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    it = np.array([r["iter"] for r in rows], dtype=np.float64)
    trained = it > 0  # the row at iteration 0 has validation figures only
    fig = Figure(figsize=(11, 4.2), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax_loss, ax_acc = fig.subplots(1, 2)
    for ax, key, name in ((ax_loss, "loss", "loss (cross-entropy)"),
                          (ax_acc, "acc", "accuracy")):
        ax.plot(it[trained], [r[f"train_{key}"] for r, t in zip(rows, trained, strict=True)
                              if t], "o-", ms=3, label="train (interval mean)")
        ax.plot(it, [r[f"valid_{key}"] for r in rows], "s-", ms=3, label="validation")
        ax.set_xlabel("iteration")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    best = best_index(rows)
    if best is not None:
        b = rows[best]
        ax_acc.plot([b["iter"]], [b["valid_acc"]], "*", ms=14, color="crimson",
                    label=f"best validation {b['valid_acc']:.4f} @ {b['iter']:,}")
    ax_acc.set_ylim(0, 1)
    ax_loss.legend()
    ax_acc.legend(loc="best")
    if title:
        fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def best_index(rows: list[dict[str, Any]]) -> int | None:
    """Index of the row with the highest validation accuracy after training began (the
    earliest on ties, as training picks ``best.pt``); None without such a row."""
    best = None
    for i, r in enumerate(rows):
        if r["iter"] > 0 and (best is None or r["valid_acc"] > rows[best]["valid_acc"]):
            best = i
    return best


def _save(fig: Any, path: Path | str) -> Path:
    from kwspot.outputs import output_path, write_error

    path = output_path(path)
    try:
        fig.savefig(path, format="png")
    except OSError as exc:
        raise write_error(path, exc) from None
    return path
