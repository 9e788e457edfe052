"""Command-line entry point: each subcommand lives in its own module of this package.

A command module defines ``register(subparsers)`` which adds its parser and sets
``func=run``; ``run(args) -> int`` calls library functions. Command modules import torch and
other heavy libraries inside ``run`` only, so ``kwspot predict model.onnx`` works with just
numpy, soundfile and onnxruntime installed (the ``infer`` extra). User errors
(:class:`~kwspot.errors.KwspotError`) become one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import NoReturn

from kwspot import __version__
from kwspot.cli.common import command_parser, word_settings_in_help, worded
from kwspot.errors import KwspotError

# Subcommand modules, in the order `kwspot --help` lists them.
COMMAND_MODULES = ["demo", "data", "models", "train", "evaluate", "predict", "report", "synth",
                   "ensemble", "export", "detect", "listen", "score", "wakeword"]


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (the message and where to find help)
    instead of a usage block; subcommand parsers are of the same class."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="kwspot", description="Train, evaluate and run small keyword-spotting models."
    )
    parser.add_argument("--version", action="version", version=f"kwspot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"kwspot.cli.{name}").register(sub)
    word_settings_in_help(parser)
    return parser


class _Stderr(logging.Handler):
    """The library's notes (logger ``kwspot``) as lines on the current stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr, flush=True)


def _show_library_notes() -> None:
    logger = logging.getLogger("kwspot")
    if not any(isinstance(h, _Stderr) for h in logger.handlers):
        logger.addHandler(_Stderr())
        logger.setLevel(logging.INFO)
        logger.propagate = False


def main(argv: list[str] | None = None) -> int:
    _show_library_notes()
    for stream in (sys.stdout, sys.stderr):  # file names need not be valid UTF-8
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    used = parser
    try:
        args = parser.parse_args(argv)
        used = command_parser(parser, args)
        return int(args.func(args) or 0)
    except KwspotError as exc:  # the library names settings; the user gave flags
        print(f"kwspot: error: {worded(exc, used)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kwspot: interrupted", file=sys.stderr)
        return 130
