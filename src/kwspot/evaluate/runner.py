"""Running a classifier (or several) over labeled int16 clips and scoring it.

>>> clf = load_classifier("runs/vggnet1/best.pt")            # or model.onnx
>>> res = evaluate_classifier(clf, split.waves, split.labels, tta=True)
>>> res.accuracy, res.tta.accuracy, res.macro_f1
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kwspot.errors import KwspotError, SettingError
from kwspot.evaluate.metrics import EvalResult, result_from_probs
from kwspot.evaluate.settings import EvaluateSettings
from kwspot.infer.backend import Classifier
from kwspot.infer.tta import num_variants, tta_variants
from kwspot.progress import progress_bar


def predict_int16(clf: Classifier, waves: np.ndarray, *, tta: bool = False,
                  batch_size: int = 256, progress: bool | None = None
                  ) -> tuple[np.ndarray, np.ndarray | None]:
    """Probabilities ``[N, C]`` of int16 clips ``[N, T]``, and their TTA average (or None)."""
    waves = np.asarray(waves)
    if waves.ndim != 2 or waves.shape[1] != clf.clip_samples:
        raise KwspotError(f"{clf.source}: model takes clips of {clf.clip_samples} samples, "
                          f"got waveforms of shape {tuple(waves.shape)}")
    if batch_size < 1:
        raise SettingError("batch_size", f"must be positive, got {batch_size}")
    n, c = len(waves), len(clf.labels)
    plain = np.zeros((n, c), dtype=np.float32)
    averaged = np.zeros((n, c), dtype=np.float32) if tta else None
    k = num_variants() if tta else 1
    with progress_bar(n * k, f"evaluating {_name(clf)}", enabled=progress) as advance:
        for i in range(0, n, batch_size):
            x = waves[i:i + batch_size].astype(np.float32) / np.float32(32768.0)
            if averaged is None:
                plain[i:i + len(x)] = clf.predict_proba(x)
                advance(len(x))
                continue
            total = np.zeros((len(x), c), dtype=np.float64)
            for j, v in enumerate(tta_variants(x, clf.sample_rate)):
                p = clf.predict_proba(v)
                if j == 0:
                    plain[i:i + len(x)] = p
                total += p
                advance(len(x))
            averaged[i:i + len(x)] = total / k
    return plain, averaged


def model_info(clf: Classifier) -> dict[str, Any]:
    """Name, source file and parameter count (None when unknown) of a classifier."""
    params = None
    net = getattr(clf, "net", None)
    if net is not None:  # a PyTorch checkpoint: count the classifier's trainable weights
        params = int(sum(p.numel() for p in net.classifier.parameters() if p.requires_grad))
    else:
        meta = getattr(clf, "meta", None) or {}
        params = meta.get("params")
    return {"model": _name(clf), "source": clf.source, "params": params}


def evaluate_classifier(clf: Classifier, waves: np.ndarray, labels: np.ndarray, *,
                        tta: bool = EvaluateSettings.tta,
                        batch_size: int = EvaluateSettings.batch_size,
                        label_names: tuple[str, ...] | None = None,
                        progress: bool | None = None) -> EvalResult:
    """Score ``clf`` on int16 clips ``[N, T]`` with true class indices ``labels [N]``.

    ``label_names`` (the data's class names) must equal the model's labels when given;
    ``tta`` also fills ``result.tta`` with the figures of the TTA-averaged probabilities.
    """
    names = tuple(clf.labels)
    if label_names is not None and tuple(label_names) != names:
        raise KwspotError(f"{clf.source}: model labels ({','.join(names)}) differ from the "
                          f"data's ({','.join(label_names)})")
    plain, averaged = predict_int16(clf, waves, tta=tta, batch_size=batch_size,
                                    progress=progress)
    info = model_info(clf)
    res = result_from_probs(plain, labels, names, info=info)
    if averaged is not None:
        res.tta = result_from_probs(averaged, labels, names, info=info)
    return res


def evaluate_ensemble(results: list[EvalResult], *, name: str = "ensemble") -> EvalResult:
    """The figures of the mean probabilities of several models' results on the same clips
    (TTA too when every result has it)."""
    if not results:
        raise ValueError("no results to ensemble")
    first = results[0]
    for r in results[1:]:
        if r.labels != first.labels:
            raise KwspotError(f"cannot ensemble {r.info.get('source', 'a model')} (labels "
                              f"{','.join(r.labels)}) with {first.info.get('source', 'a model')} "
                              f"(labels {','.join(first.labels)})")
        if not np.array_equal(r.targets, first.targets):
            raise ValueError("results to ensemble were computed on different clips")
    params = [r.info.get("params") for r in results]
    info = {"model": name, "source": ",".join(str(r.info.get("source", "?")) for r in results),
            "params": sum(params) if all(p is not None for p in params) else None}
    mean = np.mean([r.probs for r in results], axis=0)
    res = result_from_probs(mean, first.targets, first.labels, info=info)
    if all(r.tta is not None for r in results):
        tta_mean = np.mean([r.tta.probs for r in results], axis=0)  # type: ignore[union-attr]
        res.tta = result_from_probs(tta_mean, first.targets, first.labels, info=info)
    return res


def _name(clf: Classifier) -> str:
    return str(getattr(clf, "model_name", None) or clf.source)
