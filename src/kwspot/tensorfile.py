"""Files of tensors and plain values: written atomically, read without running code.

:func:`save_atomic` is the one place kwspot calls ``torch.save`` (checkpoints through
:class:`kwspot.checkpoint.Checkpoint`, caches of converted weights); :func:`read_tensors` reads
with ``torch.load(weights_only=True)`` and refuses anything else in one line.
"""

from __future__ import annotations

import errno
import os
import pickle
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from kwspot.errors import KwspotError

TMP_SUFFIX = ".tmp"


def read_tensors(path: Path) -> Any:
    """``torch.load`` with ``weights_only=True``: tensors and plain values, never code."""
    from torch.torch_version import TorchVersion  # a str; version-1 files pickled one

    try:
        with torch.serialization.safe_globals([TorchVersion]), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. about the pickle protocol of foreign files
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        what = f"a pickled {found.group(1)}" if found else "not only tensors and plain values"
        raise KwspotError(f"{path}: not a readable checkpoint (refused: {what}; nothing in it "
                          "was run)") from None
    except Exception as exc:  # torch raises many types for truncated/foreign files
        raise KwspotError(f"{path}: not a readable checkpoint ({type(exc).__name__})") from None


def save_atomic(obj: Any, path: Path | str) -> None:
    """``torch.save`` to a temporary file in the same folder, fsync, then rename over ``path``.

    An OSError (disk full, read-only folder …) becomes one KwspotError line; the file that was
    at ``path`` stays as it was and the temporary file is removed."""
    _write_atomic(Path(path), lambda f: torch.save(obj, f), "the checkpoint")


def write_text_atomic(path: Path | str, text: str) -> None:
    """Like :func:`save_atomic`, for a UTF-8 text file."""
    _write_atomic(Path(path), lambda f: f.write(text.encode("utf-8")), "the file")


def _write_atomic(path: Path, write: Callable[[Any], Any], what: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        reason = exc.strerror or errno.errorcode.get(exc.errno or 0, type(exc).__name__)
        raise KwspotError(f"{path}: cannot write {what} ({reason}); what was there is "
                          "kept") from None
    finally:
        if tmp.exists():
            tmp.unlink()


def remove_stale_tmp(folder: Path | str) -> list[Path]:
    """Delete the temporary files of writers that are gone (``.NAME.PID.tmp`` whose PID is not
    a live process); returns what was removed."""
    removed = []
    for tmp in Path(folder).glob(f".*{TMP_SUFFIX}"):
        pid = tmp.name[:-len(TMP_SUFFIX)].rsplit(".", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True
