"""Finding clips in the dataset layouts people have.

* raw Speech Commands v0.01/v0.02: ``ROOT/<word>/*.wav``, ``ROOT/_background_noise_/``,
  optional ``validation_list.txt`` / ``testing_list.txt``;
* Kaggle competition: ``ROOT/train/audio/<word>/...`` (same rules) and unlabeled
  ``ROOT/test/audio/*.wav``;
* pre-labeled 12-class folders (the official test set): ``yes … go``, ``_unknown_``,
  ``_silence_`` (unknown files named ``WORD_SPEAKER_nohash_N.wav.wav``);
* a flat folder of audio files (unlabeled, for prediction).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from kwspot.data.audio import is_audio_file
from kwspot.errors import KwspotError

NOISE_DIR = "_background_noise_"
UNKNOWN_DIR = "_unknown_"
SILENCE_DIR = "_silence_"
_NOHASH = re.compile(r"_nohash_.*$")


@dataclass(frozen=True)
class Clip:
    """One labeled (or unlabeled) audio file."""

    path: Path  # absolute path
    rel: str  # path relative to the audio root, with '/' (the form list files use)
    folder: str  # word folder, "_unknown_", "_silence_", or "" when unlabeled
    speaker: str


@dataclass
class Layout:
    """What :func:`discover` found under a dataset root."""

    kind: str  # "speech_commands" | "kaggle" | "prelabeled" | "unlabeled"
    root: Path  # the folder the word folders (or files) are in
    clips: list[Clip]
    noise_files: list[Path] = field(default_factory=list)
    validation_list: Path | None = None
    testing_list: Path | None = None
    unlabeled_test: Path | None = None  # Kaggle ROOT/test/audio

    @property
    def folders(self) -> list[str]:
        return sorted({c.folder for c in self.clips})


def speaker_of(filename: str) -> str:
    """Speaker id from a Speech Commands file name.

    ``0a7c2a8d_nohash_0.wav`` → ``0a7c2a8d``; ``bed_0a7c2a8d_nohash_0.wav.wav`` → ``0a7c2a8d``.
    A name without ``_nohash_`` is its own speaker (its stem).
    """
    base = filename.split(".", 1)[0]
    if "_nohash_" in filename:
        return _NOHASH.sub("", filename).rsplit("_", 1)[-1]
    return base


def hash_name(filename: str) -> str:
    """The part of a file name the official split rule hashes (everything before ``_nohash_``)."""
    return _NOHASH.sub("", Path(filename).name)


def discover(root: Path | str, noise_dir: Path | str | None = None) -> Layout:
    """Find the layout and clips under ``root``; ``noise_dir`` overrides the noise folder."""
    root = Path(root).expanduser()
    if not root.exists():
        raise KwspotError(f"{root}: no such folder")
    if not root.is_dir():
        raise KwspotError(f"{root}: not a folder")
    kind, audio_root = _kind(root)
    test_audio = root / "test" / "audio"
    unlabeled_test = test_audio if kind == "kaggle" and test_audio.is_dir() else None
    clips = _unlabeled_clips(root) if kind == "unlabeled" else _labeled_clips(audio_root)

    def listed(name: str) -> Path | None:
        for folder in (audio_root, root, audio_root.parent):
            if (folder / name).is_file():
                return folder / name
        return None

    return Layout(kind=kind, root=audio_root, clips=clips,
                  noise_files=_noise_files(audio_root, noise_dir),
                  validation_list=listed("validation_list.txt"),
                  testing_list=listed("testing_list.txt"), unlabeled_test=unlabeled_test)


def _kind(root: Path) -> tuple[str, Path]:
    """The layout's kind and the folder its word folders (or files) are in."""
    if (root / "train" / "audio").is_dir():
        return "kaggle", root / "train" / "audio"
    subdirs = [d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")]
    if UNKNOWN_DIR in subdirs or SILENCE_DIR in subdirs:
        return "prelabeled", root
    if [d for d in subdirs if d != NOISE_DIR]:
        return "speech_commands", root
    return "unlabeled", root


def _unlabeled_clips(root: Path) -> list[Clip]:
    clips = [Clip(p.resolve(), p.name, "", speaker_of(p.name))
             for p in sorted(root.iterdir()) if is_audio_file(p)]
    if not clips:
        raise KwspotError(f"{root}: no word folders and no .wav/.flac files")
    return clips


def _labeled_clips(audio_root: Path) -> list[Clip]:
    clips: list[Clip] = []
    for d in sorted(audio_root.iterdir()):
        if not d.is_dir() or d.name == NOISE_DIR or d.name.startswith("."):
            continue
        clips += [Clip(p.resolve(), f"{d.name}/{p.name}", d.name, speaker_of(p.name))
                  for p in sorted(d.iterdir()) if is_audio_file(p)]
    if not clips:
        raise KwspotError(f"{audio_root}: word folders hold no .wav/.flac files")
    return clips


def _noise_files(audio_root: Path, noise_dir: Path | str | None) -> list[Path]:
    """The given noise folder's audio files (which must exist), else ``_background_noise_``'s."""
    if noise_dir is None:
        nd = audio_root / NOISE_DIR
        return sorted(p.resolve() for p in nd.iterdir() if is_audio_file(p)) if nd.is_dir() else []
    nd = Path(noise_dir).expanduser()
    if not nd.is_dir():
        raise KwspotError(f"{nd}: noise folder does not exist")
    noise = sorted(p.resolve() for p in nd.iterdir() if is_audio_file(p))
    if not noise:
        raise KwspotError(f"{nd}: noise folder holds no .wav/.flac files")
    return noise
