"""``kwspot data inspect ROOT``: per-split, per-class counts, speakers and duration."""

from __future__ import annotations

import argparse
from functools import partial

from kwspot.cli.common import DATA_FIELDS, add_data_args, given, worded


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="inspect datasets")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION")
    dsub.required = True
    ip = dsub.add_parser("inspect", help="per-split, per-class counts, speakers, duration")
    ip.add_argument("root", metavar="ROOT", help="dataset folder")
    add_data_args(ip, required=False)
    ip.set_defaults(func=partial(run, parser=ip))


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from kwspot.data.dataset import DataConfig
    from kwspot.data.inspect import inspect_dataset

    opts = given(args, DATA_FIELDS)
    opts["root"] = opts.pop("data", None) or args.root
    print(inspect_dataset(DataConfig(**opts), word=partial(worded, parser=parser)))
    return 0
