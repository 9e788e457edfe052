"""The command line's progress bar: rich, transient, drawn only on a terminal."""

from __future__ import annotations

import sys
from typing import Any, TextIO


class Bar:
    """A transient bar with a description, on ``stream`` when it is a terminal; silent in
    pipes, CI and tests. ``update(done, total, description)``; ``close()`` removes it."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self._bar: Any = None
        self._task: Any = None

    def update(self, done: int, total: int, description: str = "") -> None:
        if not self.enabled:
            return
        if self._bar is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeRemainingColumn(), transient=True,
                                 console=Console(file=self.stream))
            self._bar.start()
            self._task = self._bar.add_task(description, total=total)
        self._bar.update(self._task, completed=done, total=total, description=description)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
