"""Per-word detection thresholds written as text (``yes=0.9,no=0.7``)."""

from __future__ import annotations

from kwspot.errors import SettingError


def parse_thresholds(text: str | None) -> dict[str, float]:
    """``"yes=0.9,no=0.7"`` → ``{"yes": 0.9, "no": 0.7}``."""
    out: dict[str, float] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        word, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            out[word.strip()] = float(value)
        except ValueError:
            raise SettingError("thresholds", f"{text!r}: expected WORD=VALUE,... "
                               f"(bad item {item.strip()!r})") from None
    return out
