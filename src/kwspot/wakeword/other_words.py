"""Real recordings of other words (Speech Commands clips, say) as training negatives.

Synthetic voices teach a detector what the phrase sounds like; real voices saying anything
else teach it what real speech that is *not* the phrase sounds like. Each recording is placed
at a random position of one detector window (longer ones are cut to it). A file in a folder
named after a word of a phrase (``computer/`` for "hey computer"), or whose name starts with
such a word and ``_`` (``_unknown_/computer_0a1b2c3d_nohash_0.wav``, the layout of Speech
Commands' test set), is left out. Each recording is also heard through a telephone line
(:func:`with_telephone_copies`): real speech comes through narrow-band channels too, and a
detector must not learn that narrow-band words are the phrase (the synthetic phrase clips
have a share of them).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kwspot.errors import KwspotError
from kwspot.wakeword.windows import RATE


def other_word_files(folders: Sequence[str | Path], phrases: Sequence[str]) -> list[Path]:
    """The audio files of ``folders`` not named after a word of a phrase (their folder, or
    their name's part before the first ``_``)."""
    from kwspot.evaluate.posteriors import audio_files

    own = {_plain(w) for p in phrases for w in p.split()} | {_plain(p) for p in phrases}
    return [f for f in audio_files(folders)
            if _plain(f.parent.name) not in own and _plain(f.name.split("_")[0]) not in own]


def other_word_clips(files: Sequence[Path], window: int, seed: int) -> np.ndarray:
    """int16 ``[N, window]``: each readable file at a seeded random position of a window of
    zeros (unreadable files are left out)."""
    from kwspot.evaluate.posteriors import read_mono

    rng = np.random.default_rng(seed)
    out = []
    for f in files:
        try:
            x, _ = read_mono(f, RATE)
        except KwspotError:
            continue
        x = x[:window]
        clip = np.zeros(window, np.int16)
        start = int(rng.integers(0, window - len(x) + 1))
        clip[start:start + len(x)] = np.clip(np.round(x * 32767), -32768, 32767)
        out.append(clip)
    return np.stack(out) if out else np.zeros((0, window), np.int16)


def _plain(name: str) -> str:
    """A word or folder name compared case- and separator-blind (``Hey_Computer``)."""
    return "".join(c for c in name.lower() if c.isalnum())


def with_telephone_copies(clips: np.ndarray) -> np.ndarray:
    """int16 ``[2N, window]``: ``clips`` and each of them through a telephone line
    (:func:`kwspot.data.perturb.telephone`)."""
    from kwspot.data.perturb import telephone

    if not len(clips):
        return clips
    narrow = telephone(clips.astype(np.float32) / 32768.0, RATE)
    return np.concatenate([clips, np.clip(np.round(narrow * 32767), -32768, 32767
                                          ).astype(np.int16)])
