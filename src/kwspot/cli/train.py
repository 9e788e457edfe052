"""``kwspot train``: train (or resume) a model; prints the seed-style log."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any

from kwspot.cli.common import add_data_args, given, settings_help
from kwspot.errors import KwspotError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model (seed-style log, checkpoints, resume)",
                       formatter_class=settings_help(_train_defaults),
                       description="Train a model. Options left out take the model's "
                       "recommended settings, then the seed's recipe (SGD lr 0.01, momentum 0.9, "
                       "batch 256, cosine decay).")
    add_data_args(p, required=False)
    p.add_argument("--synth", default=None, help="folder of `kwspot synth` clips to mix in")
    p.add_argument("--synth-ratio", type=float, default=None,
                   help="synthesized clips per real training clip (%(setting)s)")
    m = p.add_argument_group("model")
    m.add_argument("--model", default=None, help="registered model (see `kwspot models`)")
    m.add_argument("--features", default=None,
                   help="front-end: raw, mel, mfcc or embedding (default: the model's own)")
    m.add_argument("--embedding-dir", default=None, metavar="DIR",
                   help="folder with openWakeWord's melspectrogram and embedding_model "
                   "(.tflite or .onnx) when pyopen-wakeword is not installed")
    m.add_argument("--embedding-lr-scale", type=float, default=None, metavar="S",
                   help="fine-tune the pretrained embedding at lr x S (default 0: frozen)")
    m.add_argument("--feature-copies", type=int, default=None, metavar="N",
                   help="augmented copies per clip precomputed for a frozen embedding (2)")
    m.add_argument("--feature-norm", action="store_true", default=None,
                   help="per-band mean/std normalisation fitted on training clips")
    o = p.add_argument_group("optimisation")
    o.add_argument("--iters", type=int, default=None, help="training iterations")
    o.add_argument("--epochs", type=float, default=None,
                   help="run length in passes over the training split (instead of --iters)")
    o.add_argument("--batch-size", type=int, default=None, help="global batch size (%(setting)s)")
    o.add_argument("--lr", type=float, default=None, help="peak learning rate (%(setting)s)")
    o.add_argument("--optimizer", choices=["sgd", "adamw"], default=None)
    o.add_argument("--momentum", type=float, default=None)
    o.add_argument("--weight-decay", type=float, default=None)
    o.add_argument("--schedule", choices=["cosine", "step", "constant"], default=None,
                   help="learning-rate schedule after warm-up (%(setting)s)")
    o.add_argument("--warmup-iters", type=int, default=None)
    o.add_argument("--warmup", type=float, default=None,
                   help="warm-up as a share of the run, e.g. 0.05 (instead of --warmup-iters)")
    o.add_argument("--label-smoothing", type=float, default=None)
    o.add_argument("--mixup", type=float, default=None, help="mixup alpha (0 = off)")
    o.add_argument("--ema", type=float, default=None, help="weight EMA decay (0 = off)")
    o.add_argument("--grad-clip", type=float, default=None)
    a = p.add_argument_group("augmentation")
    a.add_argument("--shift-ms", type=float, default=None,
                   help="random time shift ±ms (%(setting)s)")
    a.add_argument("--noise-prob", type=float, default=None,
                   help="noise mixing chance (%(setting)s)")
    a.add_argument("--noise-volume", type=float, default=None,
                   help="max noise volume (%(setting)s)")
    a.add_argument("--gain-db", type=float, default=None, help="random gain ±dB (%(setting)s)")
    a.add_argument("--speed", type=float, default=None,
                   help="speed perturbation ±fraction (%(setting)s)")
    a.add_argument("--spec-time-masks", type=int, default=None)
    a.add_argument("--spec-time-width", type=int, default=None)
    a.add_argument("--spec-freq-masks", type=int, default=None)
    a.add_argument("--spec-freq-width", type=int, default=None)
    r = p.add_argument_group("run")
    r.add_argument("--out", default=None, help="run folder (runs/<model>)")
    r.add_argument("--resume", default=None, metavar="RUN",
                   help="continue the run in this folder from its last.pt")
    r.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --out (its checkpoints and logs)")
    r.add_argument("--log-every", type=int, default=None,
                   help="iterations per log row (%(setting)s)")
    r.add_argument("--eval-batch", type=int, default=None)
    r.add_argument("--seed", type=int, default=None)
    r.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N")
    r.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch (default: torch's choice; 1 is fastest when "
                   "other jobs share the CPU)")
    r.add_argument("--no-amp", dest="amp", action="store_false", default=None,
                   help="no bfloat16 autocast on GPU")
    r.add_argument("--sync-bn", action="store_true", default=None,
                   help="SyncBatchNorm across torchrun processes")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kwspot import models
    from kwspot.config import RESUMABLE, TrainConfig
    from kwspot.train import train

    names = [f.name for f in fields(TrainConfig)]
    explicit = given(args, [n for n in names if n in vars(args)])
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
    if "data" not in explicit:
        raise KwspotError("--data ROOT is required (or --resume RUN)")
    model = explicit.get("model", TrainConfig.model)
    explicit.setdefault("out", f"runs/{model}")
    cfg = TrainConfig.resolve(explicit, models.get_spec(model).recommended)
    with _resume_hint(cfg.out):
        train(cfg, resume=bool(args.resume), overwrite=args.overwrite, report=report)
    return 0


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
                          f"({','.join(saved['words'])}) differ from --words")
    saved = {RENAMED.get(k, k): v for k, v in saved.items()}
    changed = sorted(k for k, v in explicit.items()
                     if k not in RESUMABLE and _norm(v) != _norm(saved.get(k)))
    if changed:
        flags = ", ".join("--" + c.replace("_", "-") for c in changed)
        raise KwspotError(f"cannot change {flags} when resuming {run_dir}")
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


def _train_defaults() -> dict[str, Any]:
    """Each training setting's default, from its one definition (read only for --help)."""
    from dataclasses import MISSING

    from kwspot.config import TrainConfig

    return {f.name: f.default for f in fields(TrainConfig) if f.default is not MISSING}
