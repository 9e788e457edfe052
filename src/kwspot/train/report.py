"""What a training run tells its caller while it runs: the library itself never prints.

The loop hands log lines (the header and the seed-style rows, as written to ``log.txt``),
one-line notes (a resume that found nothing saved, an interruption, the best iteration) and
each step's progress to a :class:`TrainReport`; the command line prints them, a library caller
may ignore them (:class:`Quiet`, the default).
"""

from __future__ import annotations

from typing import Protocol


class TrainReport(Protocol):
    def line(self, text: str) -> None:
        """A log line: the run's header or one row."""

    def note(self, text: str) -> None:
        """A one-line note about the run."""

    def step(self, iteration: int, of_interval: int, interval: int, loss: float) -> None:
        """After each step: the iteration just done, its place in the log interval."""

    def close(self) -> None:
        """The run ended (normally or not)."""


class Quiet:
    """A :class:`TrainReport` that drops everything."""

    def line(self, text: str) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def step(self, iteration: int, of_interval: int, interval: int, loss: float) -> None:
        pass

    def close(self) -> None:
        pass
