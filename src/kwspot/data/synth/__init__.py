"""Speech-Commands-style training data spoken by eSpeak NG voices (``kwspot synth``).

>>> from kwspot.data.synth import synthesize
>>> report = synthesize("/tmp/synth", per_word=50, seed=1)  # doctest: +SKIP
"""

from kwspot.data.labels import DEFAULT_WORDS
from kwspot.data.synth.generate import MARKER, NOISE_DIR, SynthReport, synthesize
from kwspot.data.synth.speakers import SPLITS, Speaker, hash_split
from kwspot.data.synth.voices import list_accents, list_variants
from kwspot.data.synth_settings import (
    DEFAULT_PERTURBATIONS,
    DEFAULT_UNKNOWN_WORDS,
    SynthSettings,
)

__all__ = [
    "DEFAULT_PERTURBATIONS",
    "DEFAULT_UNKNOWN_WORDS",
    "DEFAULT_WORDS",
    "MARKER",
    "NOISE_DIR",
    "SPLITS",
    "Speaker",
    "SynthReport",
    "SynthSettings",
    "hash_split",
    "list_accents",
    "list_variants",
    "synthesize",
]
