"""Argument groups shared by several commands."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from kwspot.data.dataset import DataConfig
from kwspot.errors import SETTING, KwspotError


def add_data_args(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    """Dataset, split and label options (defaults None so they only override when given)."""
    g = p.add_argument_group("data")
    g.add_argument("--data", required=required, metavar="ROOT",
                   help="dataset folder: Speech Commands, Kaggle or pre-labeled 12-class layout")
    g.add_argument("--words", type=_words, default=None, metavar="W1,W2",
                   help="command words (default: yes,no,up,down,left,right,on,off,stop,go)")
    g.add_argument("--noise-dir", default=None, help="background noise folder")
    g.add_argument("--split", choices=["auto", "lists", "hash"], default=None,
                   help="split by the list files, the hash rule, or auto (default)")
    g.add_argument("--val-pct", type=float, default=None,
                   help="validation %% of speakers (%(setting)s)")
    g.add_argument("--test-pct", type=float, default=None,
                   help="testing %% of speakers (%(setting)s)")
    g.add_argument("--split-salt", default=None, help="draw another speaker split")
    g.add_argument("--silence-share", type=float, default=None,
                   help="silence clips per split as a share of command clips (%(setting)s)")
    g.add_argument("--unknown-share", type=float, default=None,
                   help="unknown clips per split as a share of command clips (%(setting)s)")
    g.add_argument("--zero-silence", type=float, default=None,
                   help="share of the silence clips that are pure zeros (%(setting)s)")
    g.add_argument("--negatives", type=_paths, default=None, metavar="DIR1,DIR2",
                   help="folders of running speech/noise holding none of the words: every "
                   "second becomes a training 'unknown' clip (any rate; resampled)")
    g.add_argument("--resample", action="store_true", default=None,
                   help="convert clips that are not 16 kHz mono instead of refusing them")
    g.add_argument("--cache-dir", default=None,
                   help="decoded-audio cache (default $KWSPOT_CACHE or ~/.cache/kwspot)")


def add_runtime_args(p: argparse.ArgumentParser) -> None:
    """Where and how a model runs: ``--device`` (for .pt checkpoints) and ``--threads``."""
    p.add_argument("--device", default="cpu", help="device for .pt checkpoints (cpu)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads of the model (default: the runtime's; 1 is often faster "
                        "on a busy machine)")


def _words(text: str) -> tuple[str, ...]:
    """The listed words (checked later, by the library, with the other settings)."""
    return tuple(w.strip() for w in text.split(",") if w.strip())


def _paths(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def given(args: argparse.Namespace, names: list[str]) -> dict[str, Any]:
    """The options among ``names`` that the user actually gave (not None)."""
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


DATA_FIELDS = [{"root": "data"}.get(f.name, f.name) for f in fields(DataConfig) if f.name != "seed"]
"""The data settings the data flags set (``--data`` sets DataConfig's ``root``)."""



def _data_setting_defaults() -> dict[str, Any]:
    """Each data setting's default, from its one definition (DataConfig)."""
    return {f.name: f.default for f in fields(DataConfig)}


def settings_help(defaults: Callable[[], dict[str, Any]]) -> type[argparse.HelpFormatter]:
    """A help formatter that fills ``%(setting)s`` in a flag's help with the default of the
    setting it sets, read from ``defaults()`` (then from DataConfig) when help is shown."""

    class SettingsHelp(argparse.HelpFormatter):
        def _expand_help(self, action: argparse.Action) -> str:
            if "%(setting)" not in (action.help or ""):
                return super()._expand_help(action)
            known = {**_data_setting_defaults(), **defaults()}
            params = {**vars(action), "prog": self._prog, "setting": known.get(action.dest)}
            return self._get_help_string(action) % params

    return SettingsHelp


def worded(exc: KwspotError, parser: argparse.ArgumentParser) -> str:
    """The error's message with each setting it names worded as the flag of ``parser`` (the
    command's own) that sets it: the one place where the library's settings become flags."""
    return SETTING.sub(lambda m: flag_of(parser, m[1]), exc.template)


def flag_of(parser: argparse.ArgumentParser, setting: str) -> str:
    """The flag of ``parser`` that sets ``setting`` (``threads`` → ``--threads``), or the
    setting's own name when no flag sets it."""
    for action in parser._actions:
        if action.dest == setting and action.option_strings:
            return next((o for o in action.option_strings if o.startswith("--")),
                        action.option_strings[0])
    return setting


def command_parser(parser: argparse.ArgumentParser, args: argparse.Namespace
                   ) -> argparse.ArgumentParser:
    """The (sub)parser of the command ``args`` were parsed for (``kwspot data inspect``'s)."""
    while True:
        chosen = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
                  and getattr(args, a.dest, None) in a.choices]
        if not chosen:
            return parser
        parser = chosen[0].choices[getattr(args, chosen[0].dest)]
