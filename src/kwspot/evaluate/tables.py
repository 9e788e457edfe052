"""Plain-text tables for the terminal: confusion matrix, per-class figures, model comparison."""

from __future__ import annotations

import numpy as np

from kwspot.evaluate.metrics import EvalResult

_CORNER = "true \\ pred"


def format_confusion(confusion: np.ndarray | EvalResult, labels: tuple[str, ...] | None = None
                     ) -> str:
    """Rows = true class, columns = predicted class, plus each row's total and recall."""
    if isinstance(confusion, EvalResult):
        labels = labels or confusion.labels
        confusion = confusion.confusion
    cm = np.asarray(confusion)
    if labels is None:
        labels = tuple(str(i) for i in range(len(cm)))
    digits = len(str(int(cm.max()) if cm.size else 0))
    widths = [max(len(name), digits) for name in labels]
    first = max(len(_CORNER), *(len(n) for n in labels))
    head = f"{_CORNER:<{first}}  " + "  ".join(
        f"{n:>{w}}" for n, w in zip(labels, widths, strict=True)) + "   total  recall"
    lines = [head]
    for i, name in enumerate(labels):
        total = int(cm[i].sum())
        recall = f"{cm[i, i] / total:.3f}" if total else "    -"
        cells = "  ".join(f"{int(v):>{w}}" for v, w in zip(cm[i], widths, strict=True))
        lines.append(f"{name:<{first}}  {cells}   {total:>5}  {recall:>6}")
    return "\n".join(lines)


def format_per_class(result: EvalResult) -> str:
    """Precision, recall, F1 and support per class, then the macro averages."""
    first = max(len("macro avg"), *(len(n) for n in result.labels))
    lines = [f"{'class':<{first}}  precision  recall      f1  support"]
    for c in result.per_class:
        lines.append(f"{c.name:<{first}}  {c.precision:9.4f}  {c.recall:6.4f}  {c.f1:6.4f}  "
                     f"{c.support:7d}")
    lines.append(f"{'macro avg':<{first}}  {result.macro_precision:9.4f}  "
                 f"{result.macro_recall:6.4f}  {result.macro_f1:6.4f}  {result.count:7d}")
    return "\n".join(lines)


def format_summary(result: EvalResult) -> str:
    """One line: accuracy, loss and macro F1 (and the TTA accuracy when there is one)."""
    line = (f"accuracy {result.accuracy:.4f} ({np.trace(result.confusion)}/{result.count})  "
            f"loss {result.loss:.4f}  macro F1 {result.macro_f1:.4f}")
    if result.tta is not None:
        line += (f"  |  TTA accuracy {result.tta.accuracy:.4f}  loss {result.tta.loss:.4f}  "
                 f"macro F1 {result.tta.macro_f1:.4f}")
    return line


def format_comparison(results: list[EvalResult], names: list[str]) -> str:
    """Models side by side, one column each: accuracy, loss, macro F1, params (+ TTA rows)."""
    rows: list[tuple[str, list[str]]] = [
        ("accuracy", [f"{r.accuracy:.4f}" for r in results]),
        ("loss", [f"{r.loss:.4f}" for r in results]),
        ("macro F1", [f"{r.macro_f1:.4f}" for r in results]),
    ]
    if any(r.tta is not None for r in results):
        rows += [
            ("TTA accuracy", [f"{r.tta.accuracy:.4f}" if r.tta else "-" for r in results]),
            ("TTA loss", [f"{r.tta.loss:.4f}" if r.tta else "-" for r in results]),
            ("TTA macro F1", [f"{r.tta.macro_f1:.4f}" if r.tta else "-" for r in results]),
        ]
    rows.append(("params", [f"{r.info['params']:,}" if r.info.get("params") is not None
                            else "-" for r in results]))
    first = max(len(label) for label, _ in rows)
    widths = [max(len(n), *(len(vals[i]) for _, vals in rows)) for i, n in enumerate(names)]
    lines = [" " * first + "  " + "  ".join(f"{n:>{w}}" for n, w in zip(names, widths,
                                                                          strict=True))]
    for label, vals in rows:
        lines.append(f"{label:<{first}}  " + "  ".join(f"{v:>{w}}" for v, w in zip(
            vals, widths, strict=True)))
    return "\n".join(lines)
