"""Writing the files a user names (CSV, JSON, ONNX, plots): every way it can fail — a parent
that is a file, a folder in the way, no permission, a full disk — becomes one
:class:`~kwspot.errors.KwspotError` naming the file, and nothing half-written is left behind.

>>> with atomic_open("detections.csv", newline="") as f:
...     f.write("time_s,word\\n")
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from kwspot.errors import KwspotError

_REASONS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "disk quota exceeded",
            errno.EROFS: "read-only file system"}


def write_error(path: Path | str, exc: OSError) -> KwspotError:
    """The one-line error for an ``OSError`` raised while writing ``path``."""
    why = _REASONS.get(exc.errno or 0) or exc.strerror or str(exc) or type(exc).__name__
    return KwspotError(f"{path}: cannot write ({why})")


def output_path(path: Path | str) -> Path:
    """``path`` with its folder created, after checking that a file can be written there."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise KwspotError(f"{path}: is a folder; give a file name")
    for parent in path.parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise KwspotError(f"{path}: cannot write: {parent} is a file, not a folder")
            break
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(path, exc) from None
    return path


@contextmanager
def atomic_open(path: Path | str, *, newline: str | None = None) -> Iterator[TextIO]:
    """A UTF-8 text file written under a temporary name and renamed to ``path`` when the block
    ends without error (file names that are not valid UTF-8 are written as their bytes)."""
    path = output_path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape",
                       newline=newline) as f:
            yield f
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        raise write_error(path, exc) from None
    except BaseException:
        _remove(tmp)
        raise


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
