"""Evaluation: metrics, confusion matrix, test-time augmentation, ensembles (numpy only; torch
is imported only by the backend of a ``.pt`` checkpoint).

>>> from kwspot.evaluate import evaluate_classifier, format_confusion, plot_confusion
>>> res = evaluate_classifier(load_classifier("best.pt"), split.waves, split.labels, tta=True)
>>> print(format_confusion(res)); plot_confusion(res, "confusion.png")
"""

from __future__ import annotations

from kwspot.evaluate.metrics import (
    ClassStats,
    EvalResult,
    class_stats,
    confusion_matrix,
    result_from_probs,
)
from kwspot.evaluate.runner import (
    evaluate_classifier,
    evaluate_ensemble,
    model_info,
    predict_int16,
)
from kwspot.evaluate.tables import (
    format_comparison,
    format_confusion,
    format_per_class,
    format_summary,
)
from kwspot.infer.tta import TTA_GAINS_DB, TTA_SHIFTS_MS, tta_variants
from kwspot.plots import plot_confusion

__all__ = [
    "TTA_GAINS_DB", "TTA_SHIFTS_MS", "ClassStats", "EvalResult", "class_stats",
    "confusion_matrix", "evaluate_classifier", "evaluate_ensemble", "format_comparison",
    "format_confusion", "format_per_class", "format_summary", "model_info", "plot_confusion",
    "predict_int16", "result_from_probs", "tta_variants",
]
