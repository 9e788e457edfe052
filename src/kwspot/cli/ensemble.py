"""``kwspot ensemble``: average the heads of several checkpoints over one front-end."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ensemble", help="average the heads of several runs into one model",
                       description="Combine checkpoints of one speech-embedding head (emb_*) "
                       "trained apart — e.g. one with synthesized sound-alikes as --negatives "
                       "and one without — into one checkpoint whose output is their mean class "
                       "probabilities. The embedding runs once, so the ensemble costs little "
                       "more than one head. Same model, words and frozen embedding are "
                       "required, and the same split of data they share (the first "
                       "checkpoint's split is the ensemble's). Calibrate its thresholds "
                       "afresh (kwspot score --save-model); then evaluate, export, detect and "
                       "listen take it as any model.")
    p.add_argument("--checkpoint", action="append", required=True, metavar="CKPT",
                   help="a .pt checkpoint or a run folder (its best.pt); repeat, 2 or more")
    p.add_argument("--out", required=True, metavar="FILE", help="checkpoint to write (.pt)")
    p.add_argument("--overwrite", action="store_true", help="let --out replace a file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kwspot.ensemble import combine_files

    c = combine_files(args.checkpoint, args.out, overwrite=args.overwrite)
    print(f"kwspot: wrote {c.path}: {c.model_kwargs['members']} heads of {c.model} over one "
          f"front-end, averaged ({', '.join(c.labels)})")
    return 0
