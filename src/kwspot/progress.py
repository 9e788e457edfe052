"""kwspot's one progress bar: rich, transient, drawn only on a terminal (quiet in pipes, CI
and tests). :class:`Bar` is updated with a position; :func:`progress_bar` yields an
``advance(n)`` over it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TextIO


class Advance(Protocol):
    def __call__(self, n: int = 1) -> None: ...


class Bar:
    """A transient bar on ``stream`` (stderr by default) when ``enabled`` (default: when the
    stream is a terminal). ``update(done, total, description)``; ``close()`` removes it."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._bar: Any = None
        self._task: Any = None

    def update(self, done: int, total: int, description: str = "") -> None:
        if not self.enabled or total <= 0:
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


@contextmanager
def progress_bar(total: int, description: str, *, enabled: bool | None = None
                 ) -> Iterator[Advance]:
    """Yield ``advance(n)``; draws a transient bar on stderr when it is a terminal."""
    bar = Bar(enabled=enabled)
    done = 0

    def advance(n: int = 1) -> None:
        nonlocal done
        done += n
        bar.update(done, total, description)

    try:
        bar.update(0, total, description)
        yield advance
    finally:
        bar.close()
