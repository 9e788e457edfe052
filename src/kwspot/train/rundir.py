"""The run folder: ``last.pt`` (resume state), ``best.pt`` (the best model), ``log.txt`` and
``metrics.jsonl``.

``best.pt`` is written before ``last.pt``: ``last.pt`` never records a best iteration that
``best.pt`` does not hold, so after a kill at any moment ``--resume`` repeats the iterations
since ``last.pt`` exactly and rewrites ``best.pt`` when they improve on it.
"""

from __future__ import annotations

from pathlib import Path

from kwspot.checkpoint import Checkpoint, remove_stale_tmp
from kwspot.errors import KwspotError

RUN_FILES = ("last.pt", "best.pt", "log.txt", "metrics.jsonl")


class RunFolder:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.last = self.path / "last.pt"
        self.best = self.path / "best.pt"

    def holds_run(self) -> bool:
        return any((self.path / name).exists() for name in RUN_FILES)

    def clean(self) -> list[Path]:
        """Remove temporary checkpoint files that dead writers left behind."""
        return remove_stale_tmp(self.path) if self.path.is_dir() else []

    def check_new(self, overwrite: bool) -> None:
        """Refuse to start a new run over an existing one unless ``overwrite``."""
        if self.holds_run() and not overwrite:
            raise KwspotError(f"{self.path}: already holds a run (continue it with --resume "
                              f"{self.path}, or replace it with --overwrite)")

    def saved(self) -> Checkpoint | None:
        """The run's ``last.pt``, or None when nothing was saved yet."""
        return Checkpoint.load(self.last) if self.last.is_file() else None

    def save(self, ckpt: Checkpoint, best: bool) -> None:
        """``best.pt`` (inference only) first when ``best``, then ``last.pt``."""
        if best:
            ckpt.inference_only().save(self.best)
        ckpt.save(self.last)
