"""A setting's one definition: a dataclass field with its default and its description.

The owning module defines each setting once, as a field of its settings dataclass made with
:func:`setting`; the command line derives its flag (name, type, choices, help with the
default) from that field and nothing else. Settings named inside a description are written
in backquotes (```threshold```), as in error messages (:data:`kwspot.errors.SETTING`).
"""

from __future__ import annotations

from dataclasses import MISSING, Field, field
from typing import Any


def setting(default: Any = MISSING, help: str = "", *,  # noqa: A002 - argparse's word
            default_factory: Any = MISSING, group: str | None = None,
            choices: tuple[str, ...] | None = None, metavar: str | None = None,
            flag: str | None = None) -> Any:
    """A dataclass field for a setting a user may give: its ``default`` (or
    ``default_factory``), a one-line ``help``, the ``group`` it is listed under (None: with
    the command's own options), the values it may take (``choices``), the placeholder for
    its value (``metavar``) and, where it is not the setting's own name, its flag's name
    (``flag="input"`` for ``input_dtype``: ``--input``)."""
    meta = {"help": help, "group": group, "choices": choices, "metavar": metavar, "flag": flag}
    return field(default=default, default_factory=default_factory, metadata=meta)


def described(f: Field) -> bool:
    """Whether the field is a setting a user may give (it has a description)."""
    return bool(f.metadata.get("help"))


def same_as(f: Field, **changes: Any) -> Any:
    """A field defined as ``f`` is (a setting mirrored in another dataclass), with
    ``changes`` to its description (``group=...``)."""
    return field(default=f.default, default_factory=f.default_factory,
                 metadata={**f.metadata, **changes})
