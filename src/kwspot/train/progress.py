"""A progress bar between log rows on a terminal; silent in pipes."""

from __future__ import annotations


class StepProgress:
    """A rich progress bar over the iterations of one log interval (transient)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.bar = None
        if enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                TextColumn("{task.completed}/{task.total}"),
                                TimeRemainingColumn(), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("", total=total)

    def advance(self, it: int, loss: float) -> None:
        if self.bar is not None:
            done = (it - 1) % self.total + 1
            self.bar.update(self.task, completed=done, description=f"iter {it}  loss {loss:.4f}")

    def clear(self) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=0)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
