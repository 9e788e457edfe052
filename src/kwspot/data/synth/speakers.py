"""Synthetic speakers, and which of them go to training, validation and testing.

A speaker is an accent (``en-us`` …), a base voice variant (``m3``, ``f2`` …) turned into its
own variant file, and a centre for speaking rate, pitch and pitch range around which each
of its clips varies. Whole speakers are split, and base variants too: validation and
testing speakers use variants no training speaker uses, and half of them also speak an
accent that training never hears (when enough accents are installed), so the validation
score measures generalization to unseen voices.

Speaker ids are drawn until the Speech Commands hash rule (SHA-1 of the id, see
``input_data.which_set``) puts the id in its split, so tools that split by that rule
instead of reading ``validation_list.txt`` / ``testing_list.txt`` get the same split.

A share of training speakers may speak with a neural voice instead
(:mod:`kwspot.data.synth.neural`): their accent is :data:`NEURAL`, their variant the voice's
name, and their rate, pitch and range are mapped onto that voice's own controls. Validation
and testing speakers stay eSpeak NG voices of their own variants (a few neural voices cannot
be held out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kwspot.data.splits import SPLITS, speaker_split
from kwspot.errors import SettingError

VALIDATION_FRACTION = 0.1
TESTING_FRACTION = 0.1
# Regional accents kept out of training (validation, testing), when installed.
HELD_OUT_ACCENTS = ("en-us-nyc", "en-gb-x-gbcwmd")
_MIN_TRAINING_ACCENTS = 2
NEURAL = "neural"  # the accent of speakers with a neural voice
_NEURAL_STREAM = 0x9E0A1


@dataclass(frozen=True)
class Speaker:
    """One synthetic speaker."""

    id: str  # file-name token without underscores, e.g. "syn3fa2c01b"
    split: str
    accent: str
    variant: str  # the stock variant this speaker's own variant file derives from
    rate: float  # words per minute
    pitch: float  # eSpeak pitch parameter, 0-100
    pitch_range: float  # eSpeak range parameter, 0-100

    @property
    def neural(self) -> bool:
        """Speaks with a neural voice (named by :attr:`variant`), not eSpeak NG."""
        return self.accent == NEURAL

    @property
    def voice(self) -> str:
        """The eSpeak voice name that selects this speaker's own variant file."""
        return f"{self.accent}+{self.id}"

    @property
    def base_voice(self) -> str:
        return f"{self.accent}+{self.variant}"


def hash_split(speaker_id: str) -> str:
    """The split the Speech Commands hash rule gives a speaker id (10 % / 10 %)."""
    return speaker_split(speaker_id, VALIDATION_FRACTION * 100, TESTING_FRACTION * 100)


def split_sizes(total: int) -> dict[str, int]:
    """How many of ``total`` items go to each split (at least one each from three on)."""
    n_val = round(total * VALIDATION_FRACTION)
    n_test = round(total * TESTING_FRACTION)
    if total >= 3:
        n_val, n_test = max(1, n_val), max(1, n_test)
    return {"training": total - n_val - n_test, "validation": n_val, "testing": n_test}


def plan_speakers(count: int, accents: list[str], variants: list[str],
                  seed: int, neural_voices: list[str] | tuple[str, ...] = (),
                  neural_share: float = 0.0) -> list[Speaker]:
    """``count`` speakers over the splits; accents and variants must be non-empty.

    With ``neural_voices`` (names), each training speaker speaks with one of them instead
    (chosen at random) with probability ``neural_share``; the eSpeak speakers stay what they
    would be without them (the choice draws from a random stream of its own).
    """
    if count < 3:
        raise SettingError("speakers", f"{count}: need at least 3 (one per split)")
    rng = np.random.default_rng([seed, 0x5EA4E7])
    accent_pools = _accent_pools(accents)
    variant_pools = _variant_pools(variants, rng)
    used: set[str] = set()
    speakers = []
    for split, size in split_sizes(count).items():
        held, shared = accent_pools[split]
        pool = [variant_pools[split][i] for i in rng.permutation(len(variant_pools[split]))]
        for j in range(size):
            if held and j % 2 == 0:
                accent = held
            else:
                accent = shared[int(rng.integers(len(shared)))]
            speakers.append(Speaker(
                id=_new_id(split, used, rng),
                split=split,
                accent=accent,
                variant=pool[j % len(pool)],
                rate=float(np.exp(rng.uniform(np.log(90), np.log(175)))),
                pitch=float(rng.uniform(25, 75)),
                pitch_range=float(rng.uniform(25, 85)),
            ))
    if not neural_voices or neural_share <= 0:
        return speakers
    nrng = np.random.default_rng([seed, _NEURAL_STREAM])
    picks = nrng.integers(len(neural_voices), size=len(speakers))
    chosen = nrng.random(len(speakers)) < neural_share
    return [Speaker(sp.id, sp.split, NEURAL, neural_voices[k], sp.rate, sp.pitch, sp.pitch_range)
            if c and sp.split == "training" else sp
            for sp, k, c in zip(speakers, picks, chosen, strict=True)]


def _accent_pools(accents: list[str]) -> dict[str, tuple[str | None, list[str]]]:
    """Per split: the accent only it uses (or None), and the accents it shares."""
    held = [a for a in HELD_OUT_ACCENTS if a in accents]
    training = [a for a in accents if a not in held]
    if len(held) < 2 or len(training) < _MIN_TRAINING_ACCENTS:
        return {s: (None, list(accents)) for s in SPLITS}
    return {"training": (None, training), "validation": (held[0], training),
            "testing": (held[1], training)}


def _variant_pools(variants: list[str], rng: np.random.Generator) -> dict[str, list[str]]:
    """Disjoint base variants per split (shared only if there are fewer than three)."""
    if len(variants) < 3:
        return {s: list(variants) for s in SPLITS}
    order = [variants[i] for i in rng.permutation(len(variants))]
    sizes = split_sizes(len(order))
    n_val, n_test = sizes["validation"], sizes["testing"]
    return {"validation": order[:n_val], "testing": order[n_val:n_val + n_test],
            "training": order[n_val + n_test:]}


def _new_id(split: str, used: set[str], rng: np.random.Generator) -> str:
    while True:
        candidate = f"syn{int(rng.integers(0, 2**32)):08x}"
        if candidate not in used and hash_split(candidate) == split:
            used.add(candidate)
            return candidate
