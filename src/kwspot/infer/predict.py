"""Predicting labels of audio files: find them, read them in threads, classify in batches,
write a Kaggle-style CSV (``fname,label`` and optionally one probability column per class).

>>> files = find_audio_files(["test/audio"])
>>> preds = predict_files(load_classifier("model.onnx"), files)
>>> write_csv("submission.csv", csv_names(files), preds, probs=False)

numpy, soundfile and the classifier's runtime only: no torch for an ``.onnx`` model.
"""

from __future__ import annotations

import csv
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kwspot.data.audio import is_audio_file, read_clip
from kwspot.data.layouts import NOISE_DIR
from kwspot.errors import KwspotError, SettingError
from kwspot.infer.backend import Classifier
from kwspot.infer.predict_settings import PredictSettings
from kwspot.infer.tta import tta_proba
from kwspot.outputs import atomic_open
from kwspot.progress import progress_bar


@dataclass(frozen=True)
class Skipped:
    path: Path
    problem: str  # one line, naming the file


@dataclass
class Predictions:
    """Probabilities of the files that could be read, in input order, and the others."""

    labels: tuple[str, ...]
    paths: list[Path]  # every input file, in order
    probs: np.ndarray  # float32 [len(paths), C]; rows of skipped files are zero
    ok: np.ndarray  # bool [len(paths)]: the file was read and classified
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0  # reading + classifying

    @property
    def predicted(self) -> list[str]:
        """The label of each file (``""`` for skipped ones)."""
        idx = self.probs.argmax(axis=1)
        return [self.labels[i] if ok else "" for i, ok in zip(idx, self.ok, strict=True)]

    def counts(self) -> dict[str, int]:
        """Files per predicted label, in label order (read files only)."""
        idx = self.probs[self.ok].argmax(axis=1)
        return {name: int(k) for name, k in zip(self.labels, np.bincount(
            idx, minlength=len(self.labels)), strict=True)}

    @property
    def files_per_s(self) -> float:
        return len(self.paths) / self.seconds if self.seconds > 0 else 0.0


def find_audio_files(inputs: Sequence[Path | str]) -> list[Path]:
    """Files named directly, and the ``.wav``/``.flac`` files under folders (recursively, in
    sorted order; hidden folders and ``_background_noise_`` left out). A Kaggle root counts as
    its ``test/audio`` folder. A path given twice is predicted once."""
    found: list[Path] = []
    seen: set[Path] = set()
    for item in inputs:
        root = Path(item).expanduser()
        if not root.exists():
            raise KwspotError(f"{root}: no such file or folder")
        if root.is_dir():
            if (root / "test" / "audio").is_dir():
                root = root / "test" / "audio"
            files = sorted(p for p in root.rglob("*") if is_audio_file(p) and not any(
                part.startswith(".") or part == NOISE_DIR
                for part in p.relative_to(root).parts[:-1]))
            if not files:
                raise KwspotError(f"{root}: no .wav or .flac files in this folder")
        else:
            files = [root]
        for p in files:
            key = p.resolve()
            if key not in seen:
                seen.add(key)
                found.append(p)
    if not found:
        raise KwspotError("no input files given")
    return found


def csv_names(files: Sequence[Path]) -> list[str]:
    """The ``fname`` column: base names (as Kaggle expects) when they are unique, otherwise
    paths relative to the folder that holds all the files (``yes/0a7c2a8d_nohash_0.wav``)."""
    base = [p.name for p in files]
    if len(set(base)) == len(base):
        return base
    absolute = [Path(os.path.abspath(p)) for p in files]
    common = Path(os.path.commonpath([p.parent for p in absolute]))
    return [p.relative_to(common).as_posix() for p in absolute]


def predict_files(clf: Classifier, paths: Sequence[Path], *,
                  batch_size: int = PredictSettings.batch_size,
                  resample: bool = PredictSettings.resample,
                  workers: int | None = PredictSettings.workers,
                  tta: bool = PredictSettings.tta,
                  on_skip: Callable[[Skipped], None] | None = None,
                  progress: bool | None = None) -> Predictions:
    """Classify audio files in batches while threads read the next ones.

    Each clip is read with :func:`~kwspot.data.audio.read_clip` (padded or cropped to the
    model's clip length). A file that cannot be read is reported to ``on_skip`` and left out;
    ``resample`` converts other rates and stereo instead of skipping them; ``tta`` averages
    each clip's probabilities over shifted and louder/quieter copies (:mod:`kwspot.infer.tta`).
    """
    if batch_size < 1:
        raise SettingError("batch_size", f"must be positive, got {batch_size}")
    paths = list(paths)
    n = len(paths)
    probs = np.zeros((n, len(clf.labels)), dtype=np.float32)
    ok = np.zeros(n, dtype=bool)
    skipped: list[Skipped] = []
    t0 = time.perf_counter()
    if workers is not None and workers < 0:
        raise SettingError("workers", f"must be 1 or more (0: automatic), got {workers}")
    workers = workers or min(8, 2 * (os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool, \
            progress_bar(n, "predicting", enabled=progress) as advance:
        for start, clips in _read_ahead(pool, paths, batch_size, resample, clf.clip_samples):
            good = []
            for i, (wave, problem) in enumerate(clips):
                if wave is None:
                    s = Skipped(paths[start + i], problem or "unreadable")
                    skipped.append(s)
                    if on_skip is not None:
                        on_skip(s)
                else:
                    good.append(i)
            if good:
                x = np.stack([clips[i][0] for i in good]).astype(np.float32)
                x *= np.float32(1 / 32768)
                rows = np.asarray(good) + start
                probs[rows] = tta_proba(clf, x) if tta else clf.predict_proba(x)
                ok[rows] = True
            advance(len(clips))
    return Predictions(tuple(clf.labels), paths, probs, ok, skipped, time.perf_counter() - t0)


def write_csv(path: Path | str, names: Sequence[str], preds: Predictions, *,
              probs: bool = PredictSettings.probs) -> Path:
    """``fname,label`` rows for the files that were read (plus ``p_<class>`` columns with
    ``probs``)."""
    path = Path(path)
    with atomic_open(path, newline="") as f:
        w = csv.writer(f)
        w.writerow(["fname", "label", *(f"p_{c}" for c in preds.labels)] if probs
                   else ["fname", "label"])
        for name, label, row, ok in zip(names, preds.predicted, preds.probs, preds.ok,
                                        strict=True):
            if ok:
                w.writerow([name, label, *(f"{p:.6f}" for p in row)] if probs
                           else [name, label])
    return path


def _read(path: Path, resample: bool, length: int) -> tuple[np.ndarray | None, str | None]:
    try:
        return read_clip(path, resample=resample, length=length), None
    except KwspotError as exc:
        return None, str(exc)
    except (OSError, ValueError, RuntimeError, MemoryError) as exc:
        return None, f"{path}: cannot read audio ({type(exc).__name__}: {exc})"


def _read_ahead(pool: ThreadPoolExecutor, paths: list[Path], batch_size: int, resample: bool,
                length: int, ahead: int = 2
                ) -> Iterator[tuple[int, list[tuple[np.ndarray | None, str | None]]]]:
    """Batches of read clips in order, with ``ahead`` batches being read in the background."""
    starts = iter(range(0, len(paths), batch_size))
    pending: deque[tuple[int, list[Future]]] = deque()

    def submit() -> None:
        start = next(starts, None)
        if start is not None:
            pending.append((start, [pool.submit(_read, p, resample, length)
                                    for p in paths[start:start + batch_size]]))

    for _ in range(ahead):
        submit()
    while pending:
        start, futures = pending.popleft()
        submit()
        yield start, [f.result() for f in futures]
