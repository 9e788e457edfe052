"""Synthetic training audio for wake phrases: the phrases by many eSpeak NG voices (and a
share by neural voices, when installed or given), and negatives made for them (sound-alikes,
partial phrases, other words and sentences).

Both sets are :func:`~kwspot.data.synth.synthesize` folders, reused when made before with the
same settings. Clips last one detector window; every phrase clip comes from its own synthetic
speaker (accent, voice variant, vocal-tract length, pitch, rate), in a simulated room or
through a device or telephone line for a share of them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kwspot.data.perturb import Perturbations
from kwspot.data.synth import DEFAULT_UNKNOWN_WORDS, NOISE_DIR, SynthReport, synthesize
from kwspot.data.synth.neural import KOKORO
from kwspot.wakeword.windows import RATE, aligned_clip

# Everyday words and sentences a wake-word detector must ignore (none chosen for any phrase).
OTHER_PHRASES = (
    *DEFAULT_UNKNOWN_WORDS, "hello", "okay", "please", "thank you", "yes please", "not now",
    "good morning", "what time is it", "turn on the light", "play some music", "the weather",
    "call my mother", "set a timer", "open the door", "I think so", "where are you",
    "tomorrow", "seven", "twenty", "water", "number", "morning", "the other one",
    "can you hear me", "let me see", "that is right", "very good", "a cup of coffee",
    "I would like a large latte", "send a message", "how are you today",
)
# Shares of synthetic clips heard in a room, through a device, through a telephone line.
PERTURB = Perturbations(reverb=0.5, device=0.5, telephone=0.15)
# Voices that speak phrase clips only: Kokoro-82M takes about 2 s of CPU per clip, too slow
# for the thousands of negatives in a run's time (phrases alone: about 1.5 min on 2 cores).
PHRASE_ONLY_VOICES = (KOKORO,)
MIN_WINDOW_S = 2.0  # the shortest detector window (about 16 embeddings)
CONTEXT_S = 0.75  # added to the slowest phrase: what one embedding hears


@dataclass(frozen=True)
class SynthSets:
    positives: SynthReport
    negatives: SynthReport
    window: int  # samples per clip


def window_samples(phrases: Sequence[str], window_s: float | None = None) -> int:
    """Detector window in samples, a multiple of 80 ms: ``window_s``, or 2 s unless the
    slowest phrase plus the context of one embedding needs more."""
    if window_s is not None:
        return aligned_clip(round(window_s * RATE))
    from kwspot.data.synth import espeak
    from kwspot.data.synth.generate import clip_samples

    paths = espeak.locate_espeak()
    with tempfile.TemporaryDirectory(prefix="kwspot-wake-") as tmp:
        library = espeak.private_library_copy(paths.library, Path(tmp))
        needed = clip_samples(list(phrases), None,
                              lambda: espeak.fresh_engine(library, paths.data))
    return aligned_clip(max(round(MIN_WINDOW_S * RATE), needed + round(CONTEXT_S * RATE)))


def negative_words(phrases: Sequence[str], confusables: int) -> tuple[list[str], list[str]]:
    """``(other words, partial phrases and sound-alikes)`` for ``phrases``: every partial
    phrase, and ``confusables`` sound-alikes of each phrase; other words that hold a word of
    a phrase are left out."""
    from kwspot.data.synth.confusable import confusable_phrases, partial_phrases

    own = {w for p in phrases for w in p.lower().split()}
    others = [o for o in OTHER_PHRASES if not own & set(o.lower().split())]
    alike: list[str] = []
    for p in phrases:
        partials = partial_phrases(p)
        found = (confusable_phrases(p, len(partials) + confusables) if confusables
                 else partials)
        alike += [c for c in found if c not in alike and c not in phrases and c not in others]
    return others, alike


def synthesize_sets(phrases: Sequence[str], folder: Path, *, per_phrase: int, per_negative: int,
                    confusables: int, window: int, seed: int, workers: int | None,
                    progress: bool | None = None, neural_voices: Sequence[str] = (),
                    neural_share: float = 0.0) -> SynthSets:
    """The phrase set and the negative set under ``folder`` (made, or reused); both spoken
    by the same share of neural voices, so that a voice is no clue to the class, except
    :data:`PHRASE_ONLY_VOICES`, which speak only the phrases (the other voices take their
    share of the negatives; real voices in the negatives keep a natural voice from being a
    clue)."""
    clip_s = window / RATE
    pos = synthesize(folder / "positives", words=list(phrases), unknown_words=(),
                     per_word=per_phrase, speakers=max(3, per_phrase), seed=seed,
                     workers=workers, progress=progress, perturb=PERTURB, clip_seconds=clip_s,
                     noise_seconds=10, neural_voices=neural_voices, neural_share=neural_share)
    others, alike = negative_words(phrases, confusables)
    negative_voices = tuple(v for v in neural_voices if v not in PHRASE_ONLY_VOICES)
    neg = synthesize(folder / "negatives", words=(), unknown_words=others, confusables=alike,
                     per_word=per_negative, speakers=max(3, 4 * per_negative), seed=seed + 1,
                     workers=workers, progress=progress, perturb=PERTURB, clip_seconds=clip_s,
                     noise_seconds=60, neural_voices=negative_voices,
                     neural_share=neural_share if negative_voices else 0.0)
    return SynthSets(pos, neg, window)


def read_clips(report: SynthReport, kinds: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """int16 ``[N, window]`` clips of ``kinds`` (``keyword``, ``unknown``, ``confusable``) and
    their class names, in ``meta.csv`` order."""
    import csv

    import soundfile as sf

    rows = list(csv.DictReader((report.out_dir / "meta.csv").open(encoding="utf-8")))
    rows = [r for r in rows if r["kind"] in kinds]
    window = round(report.clip_seconds * RATE)
    out = np.zeros((len(rows), window), np.int16)
    for i, r in enumerate(rows):
        x, _ = sf.read(str(report.out_dir / r["path"]), dtype="int16")
        out[i, :min(window, len(x))] = x[:window]
    return out, [r["word"] for r in rows]


def noise_clips(report: SynthReport) -> list[Path]:
    """The noise files a synthetic set made (coloured noise at several levels)."""
    return sorted((report.out_dir / NOISE_DIR).glob("*.wav"))

