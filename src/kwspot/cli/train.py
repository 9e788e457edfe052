"""``kwspot train``: train (or resume) a model; prints the seed-style log."""

from __future__ import annotations

import argparse
from dataclasses import fields

from kwspot.cli.common import add_data_args, given
from kwspot.errors import KwspotError

# Options that may change when resuming (anything else must match the checkpoint).
_RESUMABLE = {"iters", "log_every", "device", "eval_batch", "out", "cache_dir", "amp", "threads"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model (seed-style log, checkpoints, resume)",
                       description="Train a model. Options left out take the model's "
                       "recommended settings, then the seed's recipe (SGD lr 0.01, momentum 0.9, "
                       "batch 256, cosine decay).")
    add_data_args(p, required=False)
    p.add_argument("--synth", default=None, help="folder of `kwspot synth` clips to mix in")
    p.add_argument("--synth-ratio", type=float, default=None,
                   help="synthesized clips per real training clip (1.0)")
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
                   help="augmented copies per clip precomputed for a frozen embedding (4)")
    m.add_argument("--feature-norm", action="store_true", default=None,
                   help="per-band mean/std normalisation fitted on training clips")
    o = p.add_argument_group("optimisation")
    o.add_argument("--iters", type=int, default=None, help="training iterations")
    o.add_argument("--batch-size", type=int, default=None, help="global batch size (256)")
    o.add_argument("--lr", type=float, default=None, help="peak learning rate (0.01)")
    o.add_argument("--optimizer", choices=["sgd", "adamw"], default=None)
    o.add_argument("--momentum", type=float, default=None)
    o.add_argument("--weight-decay", type=float, default=None)
    o.add_argument("--schedule", choices=["cosine", "step", "constant"], default=None,
                   help="learning-rate schedule after warm-up (cosine)")
    o.add_argument("--warmup-iters", type=int, default=None)
    o.add_argument("--label-smoothing", type=float, default=None)
    o.add_argument("--mixup", type=float, default=None, help="mixup alpha (0 = off)")
    o.add_argument("--ema", type=float, default=None, help="weight EMA decay (0 = off)")
    o.add_argument("--grad-clip", type=float, default=None)
    a = p.add_argument_group("augmentation")
    a.add_argument("--shift-ms", type=float, default=None, help="random time shift ±ms (100)")
    a.add_argument("--noise-prob", type=float, default=None, help="noise mixing chance (0.8)")
    a.add_argument("--noise-volume", type=float, default=None, help="max noise volume (0.1)")
    a.add_argument("--gain-db", type=float, default=None, help="random gain ±dB (0)")
    a.add_argument("--speed", type=float, default=None, help="speed perturbation ±fraction (0)")
    a.add_argument("--spec-time-masks", type=int, default=None)
    a.add_argument("--spec-time-width", type=int, default=None)
    a.add_argument("--spec-freq-masks", type=int, default=None)
    a.add_argument("--spec-freq-width", type=int, default=None)
    r = p.add_argument_group("run")
    r.add_argument("--out", default=None, help="run folder (runs/<model>)")
    r.add_argument("--resume", default=None, metavar="RUN",
                   help="continue the run in this folder from its last.pt")
    r.add_argument("--log-every", type=int, default=None, help="iterations per log row (500)")
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
    from kwspot.checkpoint import load_checkpoint
    from kwspot.config import TrainConfig
    from kwspot.train import train

    names = [f.name for f in fields(TrainConfig)]
    explicit = given(args, [n for n in names if n in vars(args)])
    if args.resume:
        ckpt = load_checkpoint(_last(args.resume))
        saved = ckpt.config
        if "model" in explicit and explicit["model"] != saved["model"]:
            raise KwspotError(f"{ckpt.path}: checkpoint is for model {saved['model']!r}, "
                              f"not {explicit['model']!r}")
        if "words" in explicit and tuple(explicit["words"]) != tuple(saved["words"]):
            raise KwspotError(f"{ckpt.path}: checkpoint labels "
                              f"({','.join(saved['words'])}) differ from --words")
        changed = sorted(k for k, v in explicit.items()
                         if k not in _RESUMABLE and _norm(v) != _norm(saved.get(k)))
        if changed:
            flags = ", ".join("--" + c.replace("_", "-") for c in changed)
            raise KwspotError(f"cannot change {flags} when resuming {args.resume}")
        cfg = TrainConfig.resolve({**saved, **{k: explicit[k] for k in explicit
                                               if k in _RESUMABLE}, "out": args.resume})
        train(cfg, resume=True)
        return 0
    if "data" not in explicit:
        raise KwspotError("--data ROOT is required (or --resume RUN)")
    model = explicit.get("model", TrainConfig.model)
    explicit.setdefault("out", f"runs/{model}")
    cfg = TrainConfig.resolve(explicit, models.get_spec(model).recommended)
    train(cfg)
    return 0


def _last(run_dir: str) -> str:
    from pathlib import Path

    p = Path(run_dir)
    return str(p / "last.pt") if p.is_dir() or not p.suffix else str(p)


def _norm(v: object) -> object:
    return list(v) if isinstance(v, tuple) else v
