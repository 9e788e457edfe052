"""Writing user-named files (kwspot.outputs): one-line errors, nothing half-written."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from kwspot.errors import KwspotError
from kwspot.outputs import atomic_open, output_path, write_error


def test_output_path_creates_the_folder(tmp_path: Path) -> None:
    assert output_path(tmp_path / "a" / "b" / "x.csv") == tmp_path / "a" / "b" / "x.csv"
    assert (tmp_path / "a" / "b").is_dir()


def test_a_file_in_the_way_is_named(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(KwspotError, match=f"cannot write: {tmp_path / 'f'} is a file, not a"):
        output_path(tmp_path / "f" / "sub" / "x.csv")
    with pytest.raises(KwspotError, match="is a folder; give a file name"):
        output_path(tmp_path)


def test_write_error_words() -> None:
    full = write_error("x.onnx", OSError(errno.ENOSPC, "No space left on device"))
    assert str(full) == "x.onnx: cannot write (the disk is full)"
    assert str(write_error("x", PermissionError(errno.EACCES, "Permission denied"))) == \
        "x: cannot write (Permission denied)"


def test_atomic_open_leaves_nothing_behind_on_a_full_disk(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n")

    class Full:
        def write(self, text: str) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(KwspotError, match="out.csv: cannot write \\(the disk is full\\)"):
        with atomic_open(target) as f:
            f.write("new\n")
            Full().write("more")
    assert target.read_text() == "old\n"  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]  # no temporary file


def test_atomic_open_replaces_on_success(tmp_path: Path) -> None:
    with atomic_open(tmp_path / "x.txt") as f:
        f.write("caf\udce9\n")  # a surrogate-escaped (non-UTF-8) name is written as its byte
    assert (tmp_path / "x.txt").read_bytes() == b"caf\xe9\n"
