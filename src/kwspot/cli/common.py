"""Argument groups shared by several commands."""

from __future__ import annotations

import argparse
import types
import typing
from dataclasses import MISSING, Field, fields
from typing import Any

from kwspot.data.dataset import DataConfig
from kwspot.errors import SETTING, KwspotError
from kwspot.settings import described


def add_data_args(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    """Dataset, split and label options (defaults None so they only override when given)."""
    g = p.add_argument_group("data")
    g.add_argument("--data", required=required, metavar="ROOT",
                   help="dataset folder: Speech Commands, Kaggle or pre-labeled 12-class layout")
    add_settings(g, DataConfig, "data")


def add_runtime_args(p: argparse.ArgumentParser) -> None:
    """Where and how a model runs: ``--device`` (for .pt checkpoints) and ``--threads``."""
    p.add_argument("--device", default="cpu", help="device for .pt checkpoints (cpu)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads of the model (default: the runtime's; 1 is often faster "
                        "on a busy machine)")


def given(args: argparse.Namespace, names: list[str]) -> dict[str, Any]:
    """The options among ``names`` that the user actually gave (not None)."""
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def settings_from(args: argparse.Namespace, cls: type, **values: Any) -> Any:
    """The settings ``cls`` (a dataclass whose flags :func:`add_settings` added) with the
    ones given on the command line over its defaults, and ``values`` over those (a list
    given as separate arguments is taken as a tuple)."""
    names = [f.name for f in fields(cls) if described(f)]
    opts = {k: tuple(v) if isinstance(v, list) else v for k, v in given(args, names).items()}
    return cls(**opts, **values)


DATA_FIELDS = ["data", *(f.name for f in fields(DataConfig) if described(f))]
"""The data settings the data flags set (``--data`` sets DataConfig's ``root``)."""


def add_settings(container: argparse._ActionsContainer, cls: type, group: str | None = None,
                 *, spaced_lists: bool = False) -> list[str]:
    """A flag for each setting of the dataclass ``cls`` listed under ``group`` (see
    :func:`kwspot.settings.setting`), in the order of its fields; returns their names.

    The flag is ``--`` + the name (or the definition's ``flag``) with ``-`` for ``_``
    (``--no-`` + it for a setting that is on by default), its type the field's, its default
    None ("not given", so the definition's default or a model's recommended value applies),
    its help the definition's description with the default. A mapping is taken as its text,
    which the command parses; a list as comma-separated text (``--words a,b``), or with
    ``spaced_lists`` (lists of paths) as separate arguments (``--test a.wav b.wav``)."""
    hints = typing.get_type_hints(cls)
    names = []
    for f in fields(cls):
        if described(f) and f.metadata.get("group") == group:
            flag, options = _flag(f, hints[f.name])
            if spaced_lists and options.get("type") is _comma_list:
                options.update(type=str, nargs="+", metavar=options["metavar"] or "PATH")
            container.add_argument(flag, dest=f.name, default=None, **options)
            names.append(f.name)
    return names


def _flag(f: Field, hint: Any) -> tuple[str, dict[str, Any]]:
    """A setting's flag and its ``add_argument`` options (but ``dest`` and ``default``)."""
    meta = f.metadata
    flag = "--" + (meta.get("flag") or f.name).replace("_", "-")
    text = meta["help"].replace("%", "%%")
    if hint is bool:
        on = f.default is True
        return ("--no-" + flag[2:] if on else flag), {
            "action": "store_false" if on else "store_true", "help": "no " * on + text}
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType)
    kind = next(k for k in typing.get_args(hint) if k is not type(None)) if optional else hint
    if typing.get_origin(kind) is tuple:
        kind = _comma_numbers if typing.get_args(kind)[0] is float else _comma_list
    elif typing.get_origin(kind) is dict:
        kind = str  # the text (``yes=0.9,no=0.7``), which the command parses
    elif kind not in (int, float, str):
        raise TypeError(f"{f.name}: a {hint} setting has no flag type")
    if f.default is not MISSING and f.default not in (None, "", ()):  # shown when one
        text += f" (default: {_shown(f.default)})"
    return flag, {"type": kind, "help": text, "choices": meta.get("choices"),
                  "metavar": meta.get("metavar")}


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(_shown, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _comma_list(text: str) -> tuple[str, ...]:
    """``a,b`` → ``("a", "b")`` (checked later, by the library, with the other settings)."""
    return tuple(p.strip() for p in text.split(",") if p.strip())


def _comma_numbers(text: str) -> tuple[float, ...]:
    """``5,30`` → ``(5.0, 30.0)`` (how many: checked later, by the library)."""
    return tuple(float(p) for p in _comma_list(text))


_comma_numbers.__name__ = "numbers"  # argparse's "invalid numbers value: 'a,b'"


def word_settings_in_help(parser: argparse.ArgumentParser) -> None:
    """Settings named in help texts (```threshold```) worded as the flags that set them, in
    ``parser`` and every subcommand's parser."""
    for action in parser._actions:
        if action.help:
            action.help = SETTING.sub(lambda m: flag_of(parser, m[1]), action.help)
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                word_settings_in_help(sub)


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
