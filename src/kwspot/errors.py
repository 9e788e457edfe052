"""The user-facing error type: the CLI prints it as one line and exits with code 2."""

from __future__ import annotations

import re

SETTING = re.compile(r"`([a-z][a-z0-9_]*)`")
"""A setting named in a message: ```resample```. It reads ``resample``; the command line
words it as the flag that sets it (``--resample``)."""


class KwspotError(Exception):
    """A problem with the user's input (a path, a file, a setting), worded for the user.

    The message names the file or value and what is wrong with it; the CLI prints
    ``kwspot: error: <message>`` with no traceback. Settings it names are written in
    backquotes (:data:`SETTING`), so the command line can name their flags instead."""

    def __str__(self) -> str:
        return SETTING.sub(r"\1", super().__str__())

    @property
    def template(self) -> str:
        """The message with the settings it names still marked."""
        return super().__str__()


class SettingError(KwspotError):
    """A bad value of one setting, named as the library names it (``threads``, ``words``).

    The command line words it with the flag that sets it (``--threads``) instead."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"`{setting}`: {problem}")
        self.setting = setting
        self.problem = problem

    def __reduce__(self) -> tuple:  # crosses process boundaries whole (workers raise it)
        return type(self), (self.setting, self.problem)
