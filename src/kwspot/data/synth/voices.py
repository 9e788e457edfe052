"""The voice inventory: English accents, base voice variants, and per-speaker voice files.

eSpeak NG falls back to its default voice when asked for a variant it does not have, so
names are taken from the data folder rather than trusted. Each synthetic speaker gets its
own variant file (a base variant with scaled formants and pitch) in a private mirror of
``espeak-ng-data``, so that ``en-us+<speaker>`` selects it by name like any stock variant.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from kwspot.data.synth_settings import SynthSettings

VARIANT_DIR = Path("voices") / "!v"

# Not accents of spoken English: the Shavian-alphabet voice reads a different script.
_EXCLUDED_ACCENTS = frozenset({"en-shaw"})

# Novelty variants that do not sound like a person (robots, heavy echo, shifted formants)
# or are not meant for use (a speed test, a name with a space that voice names cannot hold).
EXCLUDED_VARIANTS = frozenset({
    "Demonic", "Mr serious", "RicishayMax", "RicishayMax2", "RicishayMax3", "Tweaky",
    "UniRobot", "anikaRobot", "boris", "fast", "ian", "robosoft", "robosoft2", "robosoft3",
    "robosoft4", "robosoft5", "robosoft6", "robosoft7", "robosoft8",
})

_DEFAULT_PITCH = (82, 118)  # Hz, eSpeak's built-in base pitch and range
TRACT_SPREAD = SynthSettings.tract_spread  # speakers' vocal-tract length factors: log-normal


def list_accents(data_dir: Path) -> list[str]:
    """English accent voice names (``en``, ``en-us``, ``en-gb-scotland`` …) under ``lang/``.

    eSpeak NG selects a language voice by its file name (case-insensitively), so the name
    is the file's: ``lang/gmw/en`` is British English, ``lang/gmw/en-US`` American.
    """
    return sorted({path.name.lower() for path in _accent_files(data_dir)})


def _accent_files(data_dir: Path) -> list[Path]:
    return sorted(
        path for path in (data_dir / "lang").rglob("en*")
        if path.is_file() and path.name.lower() not in _EXCLUDED_ACCENTS
    )


def list_variants(data_dir: Path) -> list[str]:
    """Usable base voice variants (file names under ``voices/!v``), sorted."""
    folder = data_dir / VARIANT_DIR
    if not folder.is_dir():
        return []
    return sorted(
        p.name for p in folder.iterdir()
        if p.is_file() and p.name not in EXCLUDED_VARIANTS and p.name.isprintable()
        and " " not in p.name and "+" not in p.name
    )


def read_variant(data_dir: Path, name: str) -> list[list[str]]:
    """The keyword lines of a variant file, comments dropped."""
    text = (data_dir / VARIANT_DIR / name).read_text(encoding="utf-8", errors="replace")
    lines = []
    for raw in text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(line.split())
    return lines


def derive_variant(base: list[list[str]], name: str, rng: np.random.Generator,
                   tract_spread: float = TRACT_SPREAD) -> str:
    """A new variant file: ``base`` with a random vocal-tract length, formants and pitch.

    All formant frequencies scale by one tract factor (log-normal, ``tract_spread``: ±~10 %
    by default, clipped at ~2.6 spreads) plus a small per-formant jitter: vocal-tract-length
    perturbation done in the synthesizer, not on the waveform. Base pitch and pitch range
    scale by ±~10 %; a few speakers get some breath.
    """
    bound = tract_spread / 0.05  # clipped at 0.88..1.14 for a spread of 0.05
    tract = float(np.clip(np.exp(rng.normal(0.0, tract_spread)), 0.88**bound, 1.14**bound))
    pitch_scale = float(np.clip(np.exp(rng.normal(0.0, 0.1)), 0.75, 1.35))
    range_scale = float(np.clip(np.exp(rng.normal(0.0, 0.12)), 0.7, 1.4))
    formants = {n: ["100", "100", "100"] for n in range(9)}
    pitch = list(_DEFAULT_PITCH)
    other: list[list[str]] = []
    for words in base:
        key = words[0]
        if key in ("name", "language"):
            continue
        if key == "formant" and len(words) >= 3 and words[1].isdigit():
            formants[int(words[1])] = (words[2:] + ["100", "100"])[: max(3, len(words) - 2)]
        elif key == "pitch" and len(words) >= 3:
            pitch = [_number(words[1], _DEFAULT_PITCH[0]), _number(words[2], _DEFAULT_PITCH[1])]
        else:
            other.append(words)
    out = ["language variant", f"name {name}"]
    for n in sorted(formants):
        values = list(formants[n])
        if n >= 1:
            jitter = 1.0 + (rng.normal(0.0, 0.02) if n <= 5 else 0.0)
            values[0] = str(max(1, round(_number(values[0], 100) * tract * jitter)))
        out.append(f"formant {n} " + " ".join(values))
    low, high = pitch[0] * pitch_scale, pitch[0] * pitch_scale + (pitch[1] - pitch[0]) * range_scale
    out.append(f"pitch {round(low)} {round(high)}")
    has_breath = any(w[0] == "breath" for w in other)
    out.extend(" ".join(w) for w in other)
    if not has_breath and rng.random() < 0.15:
        level = int(rng.integers(1, 5))
        out.append(f"breath 0 {level} {level} {level} {level} {level} {level} {level}")
    return "\n".join(out) + "\n"


def _number(text: str, default: float) -> float:
    try:
        return float(text)
    except ValueError:
        return default


def mirror_data_dir(data_dir: Path, target: Path) -> Path:
    """A private ``espeak-ng-data`` under ``target``: links to the original, own ``voices/``.

    Everything but ``voices/`` is a symbolic link (copied where links are not allowed);
    stock variants are linked into the new variant folder, next to which
    :func:`write_variant` adds speaker variants. Each English accent also gets a link
    ``voices/<accent>`` to its language file: eSpeak NG loads a voice named like a file in
    ``voices/`` directly, instead of first reading every voice file to build its list.
    """
    mirror = target / "espeak-ng-data"
    (mirror / VARIANT_DIR).mkdir(parents=True)
    # One link to the original; the others point through it with short relative targets,
    # which the file system stores inline (cheap to make and to delete).
    original = target / "original-data"
    try:
        os.symlink(data_dir.resolve(), original, target_is_directory=True)
    except OSError:
        original = data_dir.resolve()
    for entry in data_dir.iterdir():
        if entry.name != "voices":
            _link(original, Path(entry.name), mirror / entry.name)
    voices = data_dir / "voices"
    if voices.is_dir():
        for entry in voices.iterdir():
            if entry.name != "!v":
                _link(original, Path("voices", entry.name), mirror / "voices" / entry.name)
        if (voices / "!v").is_dir():
            for entry in (voices / "!v").iterdir():
                _link(original, VARIANT_DIR / entry.name, mirror / VARIANT_DIR / entry.name)
    for path in _accent_files(data_dir):
        alias = mirror / "voices" / path.name.lower()
        if not alias.exists():
            _link(original, path.relative_to(data_dir), alias)
    return mirror


def write_variant(mirror: Path, name: str, text: str) -> None:
    """Add a variant file to a mirrored data folder."""
    (mirror / VARIANT_DIR / name).write_text(text, encoding="utf-8")


def _link(original: Path, relative: Path, dest: Path) -> None:
    """Make ``dest`` point at ``original / relative`` (a copy where links fail)."""
    source = original / relative
    try:
        target = os.path.relpath(source, dest.parent) if original.is_symlink() else source
        os.symlink(target, dest, target_is_directory=source.is_dir())
    except OSError:
        if source.is_dir():
            shutil.copytree(source, dest)
        else:
            shutil.copyfile(source, dest)
