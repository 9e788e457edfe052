"""Choosing each word's keyphrase-search threshold for phonetic confirmation
(:mod:`kwspot.infer.confirm`) on negative audio.

The search should veto what sounds nothing like the word and pass real utterances of it: as
lenient as it can be while staying nearly quiet on speech without the word. Each word's
threshold is the most lenient of :data:`GRID` at which the search alone fires at most
``max_per_hour`` times per hour of the given audio (a short word needs a strict threshold, a
long phrase a lenient one: PocketSphinx's margin over its phone loop shrinks with every
phone). One pass over the audio searches every word at every threshold of the grid at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from kwspot.errors import KwspotError
from kwspot.evaluate.confirmed import search_files
from kwspot.infer.confirm import Confirmation, level_key

# Most lenient first: 1e-80 .. 1e-10 for phrases of several syllables, stricter for short words.
GRID = (*(10.0 ** -k for k in range(80, 0, -10)), 1e-5, 1e-2)
# The search alone may fire this often on speech without the word: 40 times the default target
# of the detector (0.5 per hour). Measured on one fold of the benchmark's two wake words, a
# search this strict (1e-30 for "computer", 1e-20 for "snow boy") raised recall at <= 1 false
# alarm per hour by 8 and 38 points over 300 per hour (1e-80, 1e-30); any rate from 6 to 40
# per hour chose the same thresholds.
MAX_PER_HOUR = 20.0


def rates(confirmation: Confirmation, files: Sequence[Path | str], *,
          levels: Sequence[float] = GRID, workers: int | None = None,
          on_file: Callable[[], None] | None = None) -> tuple[dict[str, list[float]], float]:
    """Phrases found per hour of ``files`` by the search alone, per word and per threshold of
    ``levels`` (one pass), and the hours (unreadable files are left out: they are named where
    the posteriors are computed)."""
    counts = {w: [0] * len(levels) for w in confirmation.phrases}
    seconds = 0.0
    for found, secs in search_files(confirmation, files, levels=levels, workers=workers,
                                    on_file=on_file):
        if found is not None:
            seconds += secs
            for w, per_level in counts.items():
                for i, t in enumerate(levels):
                    per_level[i] += len(found.results[level_key(w, t)][0])
    hours = seconds / 3600
    return {w: [c / hours if hours else 0.0 for c in per_level]
            for w, per_level in counts.items()}, hours


def calibrate_search(confirmation: Confirmation, files: Sequence[Path | str],
                     max_per_hour: float = MAX_PER_HOUR, *, workers: int | None = None,
                     on_file: Callable[[], None] | None = None) -> Confirmation:
    """``confirmation`` with each word's threshold the most lenient of :data:`GRID` at which
    the search fires at most ``max_per_hour`` times per hour of ``files`` (the strictest of
    the grid when none is that quiet). ``on_file`` after each file searched."""
    if not files:
        raise KwspotError("choosing the keyphrase search's thresholds needs negative audio")
    per_hour, _ = rates(confirmation, files, workers=workers, on_file=on_file)
    chosen = {w: next((t for t, r in zip(GRID, per_hour[w], strict=True) if r <= max_per_hour),
                      GRID[-1]) for w in confirmation.phrases}
    return replace(confirmation, thresholds=chosen)
