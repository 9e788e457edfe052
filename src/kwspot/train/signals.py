"""Stop requests: signals turned into a flag the training loop polls once per step."""

from __future__ import annotations

import signal
import threading
from typing import Any


class StopRequest:
    """Turns the given signals into ``requested = True`` (handlers only in the main thread);
    :meth:`restore` puts the previous handlers back."""

    def __init__(self, *signums: int) -> None:
        self.requested = False
        self.previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            self.previous = {s: signal.signal(s, self._handle) for s in signums}

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = True

    def restore(self) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)


def stop_signals(distributed: bool) -> tuple[int, ...]:
    """SIGTERM (torchrun, schedulers) and, under torchrun, SIGINT stop a run after the current
    step on every rank at once; a single process turns SIGINT into KeyboardInterrupt."""
    return (signal.SIGTERM, *((signal.SIGINT,) if distributed else ()))
