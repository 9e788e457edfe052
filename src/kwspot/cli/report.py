"""``kwspot report``: training curves of a run to PNG and its best row."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="plot a run's training curves; print its best row",
                       description="Plot loss and accuracy (train vs validation) against "
                       "iterations from RUN_DIR/metrics.jsonl and print the row with the best "
                       "validation accuracy.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="run folder written by kwspot train")
    p.add_argument("--out", default=None, metavar="PNG", help="figure (RUN_DIR/curves.png)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kwspot.report import report_run

    rep = report_run(args.run_dir, args.out)
    print(f"kwspot: {rep.run_dir}: {len(rep.rows)} rows up to iteration "
          f"{rep.rows[-1]['iter']:,}; best validation row:")
    print(rep.format_best())
    print(f"kwspot: curves: {rep.png}")
    return 0
