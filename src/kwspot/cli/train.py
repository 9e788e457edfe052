"""``kwspot train``: train (or resume) a model; prints the seed-style log."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kwspot.cli.common import add_data_args, add_settings, given
from kwspot.errors import KwspotError

if TYPE_CHECKING:
    from kwspot.config import TrainConfig


def register(sub: argparse._SubParsersAction) -> None:
    from kwspot.config import TrainConfig
    from kwspot.data.augment_settings import AugmentConfig

    p = sub.add_parser("train", help="train a model (seed-style log, checkpoints, resume)",
                       description="Train a model. Options left out take the model's "
                       "recommended settings, then the seed's recipe (SGD lr 0.01, momentum 0.9, "
                       "batch 256, cosine decay).")
    add_data_args(p, required=False)
    add_settings(p, TrainConfig)
    add_settings(p.add_argument_group("model"), TrainConfig, "model")
    add_settings(p.add_argument_group("optimisation"), TrainConfig, "optimisation")
    add_settings(p.add_argument_group("augmentation"), AugmentConfig, "augmentation")
    r = p.add_argument_group("run")
    r.add_argument("--out", default=None, help="run folder (default: runs/<model>)")
    r.add_argument("--resume", default=None, metavar="RUN",
                   help="continue the run in this folder from its last.pt")
    r.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --out (its checkpoints and logs)")
    add_settings(r, TrainConfig, "run")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kwspot.config import RESUMABLE, TrainConfig
    from kwspot.train import train

    explicit = given_settings(args)
    report = TerminalReport()
    if args.resume:
        saved = _saved_settings(args.resume, explicit)
        if saved is not None:
            changes = {k: v for k, v in explicit.items() if k in RESUMABLE}
            saved_cfg = TrainConfig.from_saved(saved)
            cfg = saved_cfg.replace(**changes, out=_folder(args.resume))
            with _resume_hint(cfg.out):
                train(cfg, resume=True, report=report)
            return 0
        explicit["out"] = _folder(args.resume)  # nothing saved: start the run the flags describe
    cfg = new_run_config(explicit)
    with _resume_hint(cfg.out):
        train(cfg, resume=bool(args.resume), overwrite=args.overwrite, report=report)
    return 0


def given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The training settings the flags in ``args`` give."""
    from kwspot.config import TrainConfig

    return given(args, [f.name for f in fields(TrainConfig) if f.name in vars(args)])


def new_run_config(explicit: dict[str, Any]) -> TrainConfig:
    """The settings of a new run: ``explicit`` over the model's recommended ones."""
    from kwspot import models
    from kwspot.config import TrainConfig

    if "data" not in explicit:
        raise KwspotError("--data ROOT is required (or --resume RUN)")
    model = explicit.get("model", TrainConfig.model)
    return TrainConfig.resolve({"out": f"runs/{model}", **explicit},
                               models.get_spec(model).recommended)


@contextmanager
def _resume_hint(out: str) -> Iterator[None]:
    """After an interruption (the run saved its last.pt), the command that continues it."""
    try:
        yield
    except KeyboardInterrupt:
        if os.environ.get("RANK", "0") == "0":
            print(f"kwspot: continue with: kwspot train --resume {out}", file=sys.stderr,
                  flush=True)
        raise


def _saved_settings(run_dir: str, explicit: dict[str, Any]) -> dict[str, Any] | None:
    """The settings of the run in ``run_dir`` (None when it holds none), after checking that
    the flags given change only what may change on resume."""
    from kwspot.config import RENAMED, RESUMABLE
    from kwspot.train.rundir import RunFolder

    folder = RunFolder(_folder(run_dir))
    saved = folder.settings()
    if saved is None:
        if "data" not in explicit:
            raise KwspotError(f"{run_dir}: nothing was saved there to resume (no last.pt or "
                              "config.json); start the run with --data ROOT ...")
        return None
    where = folder.last if folder.last.is_file() else folder.path / "config.json"
    if "model" in explicit and explicit["model"] != saved["model"]:
        raise KwspotError(f"{where}: checkpoint is for model {saved['model']!r}, "
                          f"not {explicit['model']!r}")
    if "words" in explicit and tuple(explicit["words"]) != tuple(saved["words"]):
        raise KwspotError(f"{where}: checkpoint labels "
                          f"({','.join(saved['words'])}) differ from `words`")
    saved = {RENAMED.get(k, k): v for k, v in saved.items()}
    changed = sorted(k for k, v in explicit.items()
                     if k not in RESUMABLE and _norm(v) != _norm(saved.get(k)))
    if changed:  # the settings, which the one-line error words as their flags
        raise KwspotError(f"cannot change {', '.join(f'`{c}`' for c in changed)} when "
                          f"resuming {run_dir}")
    return saved


class TerminalReport:
    """Log lines on stdout, notes on stderr, a progress bar between rows on a terminal."""

    def __init__(self) -> None:
        from kwspot.progress import Bar

        self.bar = Bar(sys.stdout)

    def line(self, text: str) -> None:
        print(text, flush=True)

    def note(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def step(self, iteration: int, of_interval: int, interval: int, loss: float) -> None:
        self.bar.update(of_interval, interval, f"iter {iteration}  loss {loss:.4f}")

    def close(self) -> None:
        self.bar.close()


def _folder(run: str) -> str:
    """A run folder, also when given as its ``last.pt``."""
    p = Path(run)
    return str(p.parent) if p.suffix == ".pt" and not p.is_dir() else str(p)


def _norm(v: object) -> object:
    return list(v) if isinstance(v, tuple) else v
