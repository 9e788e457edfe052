"""Train/validation/test splits that never share a speaker.

The Speech Commands rule (``input_data.which_set``): SHA-1 of the file name with everything
from ``_nohash_`` on removed, modulo 2^27, scaled to a percentage; below ``val_pct`` →
validation, below ``val_pct + test_pct`` → testing, else training. Because the hashed name is
the speaker id (in the raw layout), whole speakers land in one split. :func:`speaker_split`
applies the same rule to the parsed speaker id of any layout (with an optional salt), which is
how a pre-labeled folder such as the official test set is split by percentage.
"""

from __future__ import annotations

import hashlib
import logging
import math
from pathlib import Path

from kwspot.data.layouts import Clip, Layout, hash_name
from kwspot.errors import KwspotError, SettingError

SPLITS = ("training", "validation", "testing")
SPLIT_RULES = ("auto", "lists", "hash")  # how clips are split (see assign_splits)
_MAX_NUM_WAVS_PER_CLASS = 2**27 - 1
PRELABELED_SALT = "kwspot:"

log = logging.getLogger("kwspot")


def hash_percentage(name: str) -> float:
    """The rule's percentage in [0, 100] for a hashed name (a name that is not valid UTF-8,
    read from disk with surrogate escapes, is hashed as its original bytes)."""
    h = int(hashlib.sha1(name.encode("utf-8", "surrogateescape")).hexdigest(), 16)
    return (h % (_MAX_NUM_WAVS_PER_CLASS + 1)) * (100.0 / _MAX_NUM_WAVS_PER_CLASS)


def which_set(filename: str, val_pct: float = 10.0, test_pct: float = 10.0) -> str:
    """Official rule: the split of one Speech Commands file name (path or base name)."""
    return _bucket(hash_percentage(hash_name(filename)), val_pct, test_pct)


def speaker_split(speaker: str, val_pct: float, test_pct: float, salt: str = "",
                  offset: float = 0.0) -> str:
    """The split of a speaker by the same rule; ``salt`` draws a different random split and
    ``offset`` rotates the percentages (the shares start at ``offset`` instead of 0), so that
    offsets a testing share apart test every speaker exactly once (k-fold cross-validation)."""
    pct = hash_percentage(salt + speaker)
    if offset:
        pct = (pct - offset) % 100.0
    return _bucket(pct, val_pct, test_pct)


def _bucket(pct: float, val_pct: float, test_pct: float) -> str:
    # The rule's percentage reaches 100.0 itself (h = 2^27 - 1): with shares adding up to 100 %
    # that name still belongs to them, not to an empty training share.
    pct = min(pct, math.nextafter(100.0, 0.0))
    if pct < val_pct:
        return "validation"
    if pct < val_pct + test_pct:
        return "testing"
    return "training"


def read_list(path: Path) -> list[str]:
    """Entries of a ``validation_list.txt``-style file (relative paths with '/')."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KwspotError(f"{path}: cannot read list file ({exc.strerror})") from None
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def assign_splits(layout: Layout, mode: str = "auto", val_pct: float = 10.0,
                  test_pct: float = 10.0, salt: str = "",
                  offset: float = 0.0) -> dict[str, list[Clip]]:
    """Split the layout's clips.

    Pre-labeled layouts are split with a default salt (see the code) unless ``salt`` is given;
    ``offset`` rotates the rule's percentages (see :func:`speaker_split`).
    ``mode``: ``lists`` (the list files; every entry must exist), ``hash`` (the rule on the
    parsed speaker), or ``auto``: the lists when present and complete and no offset is given,
    else the rule (a list naming files that are not there, as in a sample of the dataset,
    falls back to the rule with a note on stderr — the rule reproduces the official lists
    exactly).
    """
    if mode not in SPLIT_RULES:
        raise SettingError("split", f"must be auto, lists or hash, got {mode!r}")
    if not 0 <= val_pct <= 100 or not 0 <= test_pct <= 100 or val_pct + test_pct > 100:
        raise KwspotError(f"bad split percentages: validation {val_pct}%, testing {test_pct}%")
    if not 0 <= offset < 100:
        raise SettingError("split_offset", f"must be in [0, 100), got {offset}")
    have_lists = layout.validation_list is not None or layout.testing_list is not None
    if mode == "lists" and not have_lists:
        raise SettingError("split", f"lists, but {layout.root} holds no "
                           "validation_list.txt or testing_list.txt")
    if offset and mode == "lists":
        raise SettingError("split_offset", "rotates the hash rule; the list files cannot be "
                           "rotated")
    if mode in ("lists", "auto") and have_lists and not offset:
        table = _listed(layout, strict=mode == "lists")
        if table is not None:
            return _group(layout.clips, lambda c: table.get(c.rel, "training"))
    if not salt and layout.kind == "prelabeled":
        # A pre-labeled folder is usually the official test set, whose speakers all fall in
        # the rule's testing bucket: draw a fresh split of its speakers instead.
        salt = PRELABELED_SALT
    return _group(layout.clips,
                  lambda c: speaker_split(c.speaker, val_pct, test_pct, salt, offset))


def _listed(layout: Layout, strict: bool) -> dict[str, str] | None:
    """``rel path → split`` from the list files; None (auto mode) when they name missing files."""
    by_rel = {c.rel for c in layout.clips}
    table: dict[str, str] = {}
    for split, path in (("validation", layout.validation_list),
                        ("testing", layout.testing_list)):
        if path is None:
            continue
        entries = read_list(path)
        missing = [e for e in entries if e not in by_rel]
        if missing:
            if strict:
                raise KwspotError(f"{path}: names {len(missing)} file(s) that do not exist "
                                  f"under {layout.root} (first: {missing[0]})")
            log.warning(f"kwspot: note: {path.name} names {len(missing)} file(s) not under "
                        f"{layout.root}; splitting by the dataset's hash rule instead")
            return None
        table.update(dict.fromkeys(entries, split))
    return table


def _group(clips: list[Clip], split_of) -> dict[str, list[Clip]]:
    out: dict[str, list[Clip]] = {s: [] for s in SPLITS}
    for c in clips:
        out[split_of(c)].append(c)
    return out
