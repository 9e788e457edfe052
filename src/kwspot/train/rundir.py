"""The run folder: ``last.pt`` (resume state), ``best.pt`` (the best model), ``log.txt`` and
``metrics.jsonl``, ``config.json`` (the settings, written when the run starts).

``best.pt`` is written before ``last.pt``: ``last.pt`` never records a best iteration that
``best.pt`` does not hold, so after a kill at any moment ``--resume`` repeats the iterations
since ``last.pt`` exactly and rewrites ``best.pt`` when they improve on it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kwspot.checkpoint import Checkpoint, remove_stale_tmp, write_text_atomic
from kwspot.errors import KwspotError, SettingError

RUN_FILES = ("last.pt", "best.pt", "log.txt", "metrics.jsonl", "config.json")


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
            raise SettingError("out", f"{self.path} already holds a run (continue it with "
                               "`resume`, or replace it with `overwrite`)")

    def start(self, config: dict[str, Any]) -> None:
        """A new run: old run files go (``check_new`` allowed it); ``config.json`` records
        the settings, so a run killed before its first checkpoint can still be resumed."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            for name in RUN_FILES:
                (self.path / name).unlink(missing_ok=True)
        except OSError as exc:
            raise KwspotError(f"{self.path}: cannot write the run folder ({exc.strerror})"
                              ) from None
        write_text_atomic(self.path / "config.json", json.dumps(config, indent=1) + "\n")

    def settings(self) -> dict[str, Any] | None:
        """The run's settings: ``last.pt``'s, else ``config.json``'s; None when neither."""
        if self.last.is_file():
            return Checkpoint.load(self.last).config
        path = self.path / "config.json"
        if not path.is_file():
            return None
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise KwspotError(f"{path}: not readable ({exc})") from None
        if not isinstance(config, dict):
            raise KwspotError(f"{path}: not a run's settings")
        return config

    def saved(self) -> Checkpoint | None:
        """The run's ``last.pt``, or None when nothing was saved yet."""
        return Checkpoint.load(self.last) if self.last.is_file() else None

    def save(self, ckpt: Checkpoint, best: bool) -> None:
        """``best.pt`` (inference only) first when ``best``, then ``last.pt``."""
        if best:
            ckpt.inference_only().save(self.best)
        ckpt.save(self.last)
