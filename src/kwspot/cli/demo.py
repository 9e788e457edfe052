"""``kwspot demo``: synthesize, train, evaluate — the README's main job."""

from __future__ import annotations

import argparse
from dataclasses import fields


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="offline end-to-end demo: synthesize, train, evaluate",
                       description="Synthesize a Speech-Commands-style set with eSpeak NG and "
                       "a neural voice, train a small model on it for a few minutes, evaluate "
                       "on held-out synthetic voices and on real recordings when present.")
    p.add_argument("--out", default=None, help="run folder (runs/demo)")
    p.add_argument("--synth-dir", default=None, help="where the synthesized set is cached")
    p.add_argument("--real", default=None,
                   help="real 12-class folder to test on (default ../shared/data/sc_v2_test_part)")
    p.add_argument("--model", default=None,
                   help="model to train (emb_conv, a head over the pretrained speech "
                   "embedding; vggnet1 when openWakeWord's model files are not installed)")
    p.add_argument("--per-word", type=int, default=None, help="synthesized clips per word (200)")
    p.add_argument("--iters", type=int, default=None, help="training iterations (600)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--log-every", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--workers", type=int, default=None, help="synthesis processes")
    p.add_argument("--quick", action="store_true", help="a tiny run (seconds), e.g. for CI")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kwspot.demo import QUICK, DemoConfig, run_demo

    names = {f.name for f in fields(DemoConfig)}
    opts = {**(QUICK if args.quick else {}),
            **{k: v for k, v in vars(args).items() if k in names and v is not None}}
    from kwspot.cli.train import TerminalReport

    run_demo(DemoConfig(**opts), report=TerminalReport())
    return 0
