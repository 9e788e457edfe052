"""``kwspot wakeword PHRASE [PHRASE ...] --out DIR``: a detector for any phrase from text."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing


def register(sub: argparse._SubParsersAction) -> None:
    from kwspot.wakeword.config import WakewordConfig

    p = sub.add_parser(
        "wakeword", help="train a wake-word detector for any phrase from text (synthetic speech)",
        description="Synthesize the phrases with many eSpeak NG voices and negatives made for "
        "them, train a head over the pretrained speech embedding, calibrate the threshold for "
        "a target false-alarm rate on part of --negatives, and write model.pt and model.onnx "
        "(threshold inside) for `kwspot detect`/`listen`. With --test, print recall on those "
        "recordings and false alarms per hour on the part of --negatives kept for measuring, "
        "and write the DET plot. Steps already done in --out are reused.")
    p.add_argument("phrases", nargs="+", metavar="PHRASE",
                   help='wake word or phrase, e.g. "computer" or "hey computer"')
    p.add_argument("--out", required=True, metavar="DIR", help="run folder")
    for f in dataclasses.fields(WakewordConfig):
        if "help" in f.metadata:
            _add_setting(p, f)
    p.add_argument("--overwrite", action="store_true",
                   help="replace a model trained with other settings in --out")
    p.set_defaults(func=run)


def _add_setting(p: argparse.ArgumentParser, f: dataclasses.Field) -> None:
    """``--name`` for a setting: its type (optional or a list of paths) and help."""
    hint = typing.get_type_hints(_config_type())[f.name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    flag = "--" + f.name.replace("_", "-")
    if typing.get_origin(hint) is tuple:
        p.add_argument(flag, nargs="+", default=[], metavar="DIR", help=f.metadata["help"])
        return
    kind = args[0] if typing.get_origin(hint) in (typing.Union, types.UnionType) else hint
    shown = "" if f.default is None else " (default: %(default)s)"
    p.add_argument(flag, type=kind, default=f.default, metavar=f.name.split("_")[0].upper(),
                   help=f.metadata["help"] + shown)


def _config_type() -> type:
    from kwspot.wakeword.config import WakewordConfig

    return WakewordConfig


def run(args: argparse.Namespace) -> int:
    import sys

    from kwspot.wakeword.config import WakewordConfig
    from kwspot.wakeword.pipeline import run_wakeword
    from kwspot.wakeword.summary import summarize

    names = {f.name for f in dataclasses.fields(WakewordConfig)} - {"phrases"}
    values = {n: getattr(args, n) for n in names if hasattr(args, n)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    cfg = WakewordConfig(phrases=tuple(args.phrases), **values)

    def step(msg: str) -> None:
        print(f"kwspot wakeword: {msg}", file=sys.stderr, flush=True)

    result = run_wakeword(cfg, overwrite=args.overwrite, step=step)
    for s in result.report.skipped:
        print(f"kwspot: skipped {s.reason}", file=sys.stderr)
    print(summarize(result))
    return 0
