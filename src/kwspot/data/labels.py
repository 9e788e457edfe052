"""Label sets: the chosen words plus ``silence`` and ``unknown``."""

from __future__ import annotations

from dataclasses import dataclass

from kwspot.data.layouts import SILENCE_DIR
from kwspot.errors import SettingError

DEFAULT_WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
SILENCE = "silence"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class LabelSet:
    """Class names in index order: the words, then ``silence``, then ``unknown``."""

    words: tuple[str, ...] = DEFAULT_WORDS

    def __post_init__(self) -> None:
        if not self.words:
            raise SettingError("words", "the word list is empty")
        bad = [w for w in self.words if w in (SILENCE, UNKNOWN) or not w or w.startswith("_")]
        if bad:
            raise SettingError("words", f"{', '.join(bad)} cannot be a command word "
                                            "(silence and unknown are classes of their own)")
        if len(set(self.words)) != len(self.words):
            raise SettingError("words", f"a word is listed twice ({','.join(self.words)})")

    @classmethod
    def parse(cls, text: str | None) -> LabelSet:
        """From ``"marvin,sheila"``; ``None`` or empty gives the ten default commands."""
        if not text:
            return cls()
        return cls(tuple(w.strip() for w in text.split(",") if w.strip()))

    @property
    def names(self) -> tuple[str, ...]:
        return (*self.words, SILENCE, UNKNOWN)

    @property
    def silence_index(self) -> int:
        return len(self.words)

    @property
    def unknown_index(self) -> int:
        return len(self.words) + 1

    def __len__(self) -> int:
        return len(self.words) + 2

    def index_of_folder(self, folder: str) -> int:
        """Class index of a dataset folder: its word, silence, or unknown for any other word."""
        if folder in self.words:
            return self.words.index(folder)
        if folder == SILENCE_DIR:
            return self.silence_index
        return self.unknown_index  # "_unknown_" and every word not chosen

    def is_command(self, folder: str) -> bool:
        return folder in self.words
