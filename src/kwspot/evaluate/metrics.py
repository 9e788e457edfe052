"""Classification metrics from probabilities: confusion matrix, loss, per-class P/R/F1.

Everything here is numpy only. The confusion matrix has true classes as rows and predicted
classes as columns: ``confusion[t, p]`` counts clips of class ``t`` predicted as ``p``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kwspot.errors import KwspotError

_EPS = 1e-12  # floor for probabilities inside the log of the cross-entropy


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """``int64[num_classes, num_classes]``: rows are true classes, columns predicted ones."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.size and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"{name} holds a class outside 0..{num_classes - 1}")
    flat = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


@dataclass(frozen=True)
class ClassStats:
    """Precision, recall, F1 and support (number of true clips) of one class."""

    name: str
    precision: float
    recall: float
    f1: float
    support: int
    predicted: int  # clips predicted as this class


def class_stats(confusion: np.ndarray, names: tuple[str, ...]) -> list[ClassStats]:
    """Per-class figures of a confusion matrix; a ratio with a zero denominator is 0."""
    cm = np.asarray(confusion)
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    out = []
    for i, name in enumerate(names):
        p = tp[i] / predicted[i] if predicted[i] else 0.0
        r = tp[i] / support[i] if support[i] else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        out.append(ClassStats(name, float(p), float(r), float(f1), int(support[i]),
                              int(predicted[i])))
    return out


@dataclass
class EvalResult:
    """Figures of one model (or ensemble) on one set of labeled clips.

    Macro averages are taken over the classes that occur among the true labels or the
    predictions (as scikit-learn does), so a class absent from both does not count as 0.
    ``tta`` holds the same figures with test-time augmentation when it was asked for.
    """

    labels: tuple[str, ...]
    confusion: np.ndarray  # int64 [C, C], rows true, columns predicted
    loss: float  # mean cross-entropy of the probabilities of the true classes
    probs: np.ndarray = field(repr=False)  # float32 [N, C]
    targets: np.ndarray = field(repr=False)  # int64 [N]
    tta: EvalResult | None = None
    info: dict[str, Any] = field(default_factory=dict)  # model name, params, source, ...

    @property
    def count(self) -> int:
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / max(1, self.count))

    @property
    def per_class(self) -> list[ClassStats]:
        return class_stats(self.confusion, self.labels)

    def _present(self) -> list[ClassStats]:
        return [c for c in self.per_class if c.support or c.predicted]

    @property
    def macro_precision(self) -> float:
        return _mean([c.precision for c in self._present()])

    @property
    def macro_recall(self) -> float:
        return _mean([c.recall for c in self._present()])

    @property
    def macro_f1(self) -> float:
        return _mean([c.f1 for c in self._present()])

    def to_dict(self) -> dict[str, Any]:
        """Every figure as plain JSON types (no probabilities)."""
        d: dict[str, Any] = {
            **self.info,
            "count": self.count,
            "accuracy": self.accuracy,
            "loss": self.loss,
            "macro_precision": self.macro_precision,
            "macro_recall": self.macro_recall,
            "macro_f1": self.macro_f1,
            "per_class": {c.name: {"precision": c.precision, "recall": c.recall, "f1": c.f1,
                                   "support": c.support, "predicted": c.predicted}
                          for c in self.per_class},
            "labels": list(self.labels),
            "confusion": self.confusion.tolist(),
        }
        if self.tta is not None:
            d["tta"] = {k: v for k, v in self.tta.to_dict().items() if k not in self.info}
        return d


def result_from_probs(probs: np.ndarray, targets: np.ndarray, labels: tuple[str, ...], *,
                      info: dict[str, Any] | None = None) -> EvalResult:
    """An :class:`EvalResult` from probabilities ``[N, C]`` and true class indices ``[N]``."""
    probs = np.asarray(probs, dtype=np.float32)
    targets = np.asarray(targets, dtype=np.int64)
    if probs.ndim != 2 or probs.shape[1] != len(labels):
        raise KwspotError(f"model gives {probs.shape[-1]} class probabilities but there are "
                          f"{len(labels)} labels ({','.join(labels)})")
    if len(probs) != len(targets):
        raise ValueError(f"{len(probs)} probability rows for {len(targets)} targets")
    n = len(targets)
    picked = probs[np.arange(n), targets].astype(np.float64)
    loss = float(-np.log(np.maximum(picked, _EPS)).mean()) if n else 0.0
    cm = confusion_matrix(targets, probs.argmax(axis=1), len(labels))
    return EvalResult(tuple(labels), cm, loss, probs, targets, info=dict(info or {}))


def _mean(xs: list[float]) -> float:
    return float(np.mean(xs)) if xs else 0.0
