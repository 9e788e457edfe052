"""``kwspot ensemble``: average the heads of several checkpoints over the speech embedding."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ensemble", help="average the heads of several runs into one model",
                       description="Combine checkpoints of one speech-embedding head (emb_*) "
                       "trained apart — e.g. one with synthesized sound-alikes as --negatives, "
                       "one without, one with the embedding fine-tuned — into one checkpoint "
                       "whose output is their mean class probabilities. Heads over the frozen "
                       "embedding share it, so each costs little more than a head; each "
                       "fine-tuned embedding runs as a copy of its own. Same model, words and "
                       "front-end settings are required, and the same split of data they share "
                       "(the first checkpoint's split is the ensemble's). Calibrate its "
                       "thresholds afresh (kwspot score --save-model); then evaluate, export, "
                       "detect and listen take it as any model.")
    p.add_argument("--checkpoint", action="append", required=True, metavar="CKPT",
                   help="a .pt checkpoint or a run folder (its best.pt); repeat, 2 or more")
    p.add_argument("--out", required=True, metavar="FILE", help="checkpoint to write (.pt)")
    p.add_argument("--overwrite", action="store_true", help="let --out replace a file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kwspot.ensemble import combine_files

    c = combine_files(args.checkpoint, args.out, overwrite=args.overwrite)
    copies = int(c.frontend.get("embedding_copies", 1))
    over = "one embedding" if copies == 1 else f"{copies} embeddings"
    print(f"kwspot: wrote {c.path}: {c.model_kwargs['members']} heads of {c.model} over {over}, "
          f"averaged ({', '.join(c.labels)})")
    return 0
