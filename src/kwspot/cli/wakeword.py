"""``kwspot wakeword PHRASE [PHRASE ...] --out DIR``: a detector for any phrase from text."""

from __future__ import annotations

import argparse

from kwspot.cli.common import add_settings, settings_from


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
    add_settings(p, WakewordConfig, spaced_lists=True)
    p.add_argument("--overwrite", action="store_true",
                   help="replace a model trained with other settings in --out")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from kwspot.wakeword.config import WakewordConfig
    from kwspot.wakeword.pipeline import run_wakeword
    from kwspot.wakeword.summary import summarize

    cfg = settings_from(args, WakewordConfig, phrases=tuple(args.phrases), out=args.out)

    def step(msg: str) -> None:
        print(f"kwspot wakeword: {msg}", file=sys.stderr, flush=True)

    result = run_wakeword(cfg, overwrite=args.overwrite, step=step)
    for s in result.report.skipped:
        print(f"kwspot: skipped {s.reason}", file=sys.stderr)
    print(summarize(result))
    return 0
