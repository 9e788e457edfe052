"""The seed-style training log: one row per interval on screen, in log.txt and metrics.jsonl.

``rate  iter_k  epoch  num_m | valid_loss valid_acc | train_loss train_acc | batch_loss
batch_acc | time`` — train is the mean over the interval, batch is the last batch, num_m is
millions of clips seen, time is wall-clock since the run started (``0 hr 05 min``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

from kwspot.errors import KwspotError

HEADER = ("rate     iter_k    epoch   num_m | valid_loss/acc  | train_loss/acc  | "
          "batch_loss/acc  | time")


@dataclass(frozen=True)
class LogRow:
    lr: float
    iter: int
    epoch: float
    num_m: float  # millions of clips seen
    valid_loss: float
    valid_acc: float
    train_loss: float
    train_acc: float
    batch_loss: float
    batch_acc: float
    time_s: float
    clips_per_s: float = 0.0

    def format(self, fine: bool = False) -> str:
        """The seed's row shape; ``fine`` prints iter_k with 3 decimals for short intervals."""
        iter_k = f"{self.iter / 1000:.3f}" if fine else f"{self.iter / 1000:.1f}"
        minutes = int(self.time_s // 60)
        return (f"{self.lr:.4f} {iter_k:>7} k {self.epoch:8.2f} {self.num_m:7.2f} | "
                f"{self.valid_loss:.4f} {self.valid_acc:.4f} | "
                f"{self.train_loss:.4f} {self.train_acc:.4f} | "
                f"{self.batch_loss:.4f} {self.batch_acc:.4f} | "
                f"{minutes // 60} hr {minutes % 60:02d} min")


class TrainLog:
    """Writes rows to ``log.txt`` and ``metrics.jsonl`` (appending on resume), and hands each
    line to ``echo`` (the command line prints them). A failed write (disk full …) is one
    KwspotError line."""

    def __init__(self, out: Path, *, fine: bool, resume: bool,
                 echo: Callable[[str], None] | None = None) -> None:
        self.fine = fine
        self.echo = echo
        self.out = out
        mode = "a" if resume else "w"
        try:
            out.mkdir(parents=True, exist_ok=True)
            self.text = open(out / "log.txt", mode, encoding="utf-8")  # noqa: SIM115
            self.jsonl = open(out / "metrics.jsonl", mode, encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise KwspotError(f"{out}: cannot write the run folder ({exc.strerror})") from None

    def line(self, text: str) -> None:
        """A free-form line (header, notes) in log.txt (and echoed)."""
        if self.echo is not None:
            self.echo(text)
        self._write(self.text, text)

    def row(self, row: LogRow) -> None:
        self.line(row.format(self.fine))
        self._write(self.jsonl, json.dumps(asdict(row)))

    def _write(self, f: TextIO, text: str) -> None:
        try:
            f.write(text + "\n")
            f.flush()
        except OSError as exc:
            raise KwspotError(f"{f.name}: cannot write the training log ({exc.strerror}); the "
                              "last complete checkpoint is kept") from None

    def close(self) -> None:
        self.text.close()
        self.jsonl.close()


def read_metrics(path: Path | str) -> list[dict]:
    """Rows of a ``metrics.jsonl`` (a later row for the same iteration replaces an earlier one,
    which happens when a run resumed from an older checkpoint)."""
    rows: dict[int, dict] = {}
    for ln in Path(path).read_text(encoding="utf-8").splitlines():
        if ln.strip():
            r = json.loads(ln)
            rows[r["iter"]] = r
    return [rows[k] for k in sorted(rows)]
