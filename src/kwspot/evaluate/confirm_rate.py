"""Choosing each word's keyphrase-search threshold for phonetic confirmation
(:mod:`kwspot.infer.confirm`) on negative audio.

The search should veto what sounds nothing like the word and pass every real utterance of it:
as lenient as it can be while still quiet on speech without the word. Each word's threshold
is the most lenient of :data:`GRID` at which the search alone fires at most
``max_per_hour`` times per hour of the given audio (a short word needs a strict threshold,
a long phrase a lenient one: PocketSphinx's margin over its phone loop shrinks with every
phone). All words are searched at once, and each pass over the audio halves the grid left for
every word, so the choice takes ``log2(len(GRID))`` passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from kwspot.errors import KwspotError
from kwspot.evaluate.confirmed import search_files
from kwspot.infer.confirm import Confirmation

# Most lenient first: 1e-80 .. 1e-10 for phrases of several syllables, stricter for short words.
GRID = (*(10.0 ** -k for k in range(80, 0, -10)), 1e-5, 1e-2)
PASSES = int(np.ceil(np.log2(len(GRID))))  # over the audio, to choose among GRID
MAX_PER_HOUR = 300.0  # the search alone may fire this often on speech without the word


def rates(confirmation: Confirmation, files: Sequence[Path | str], *,
          workers: int | None = None) -> tuple[dict[str, float], float]:
    """Phrases found per hour of ``files`` by the search alone, per word, and the hours
    (unreadable files are left out: they are named where the posteriors are computed)."""
    counts = dict.fromkeys(confirmation.phrases, 0)
    seconds = 0.0
    for found, secs in search_files(confirmation, files, workers=workers):
        if found is not None:
            seconds += secs
            for w in counts:
                counts[w] += len(found.results[w][0])
    hours = seconds / 3600
    return {w: c / hours if hours else 0.0 for w, c in counts.items()}, hours


def calibrate_search(confirmation: Confirmation, files: Sequence[Path | str],
                     max_per_hour: float = MAX_PER_HOUR, *, workers: int | None = None,
                     on_pass: Callable[[int, int], None] | None = None) -> Confirmation:
    """``confirmation`` with each word's threshold the most lenient of :data:`GRID` at which
    the search fires at most ``max_per_hour`` times per hour of ``files`` (the strictest of
    the grid when none is that quiet). ``on_pass(done, passes)`` after each pass."""
    if not files:
        raise KwspotError("choosing the keyphrase search's thresholds needs negative audio")
    lo = dict.fromkeys(confirmation.phrases, 0)  # grid indices still possible: lo..hi
    hi = dict.fromkeys(confirmation.phrases, len(GRID) - 1)
    for done in range(PASSES):
        mid = {w: (lo[w] + hi[w]) // 2 for w in lo}
        trial = replace(confirmation, thresholds={w: GRID[mid[w]] for w in lo})
        per_hour, _ = rates(trial, files, workers=workers)
        for w in lo:
            if lo[w] == hi[w]:
                continue
            if per_hour[w] <= max_per_hour:
                hi[w] = mid[w]  # quiet enough: the answer is this one or more lenient
            else:
                lo[w] = mid[w] + 1
        if on_pass:
            on_pass(done + 1, PASSES)
    return replace(confirmation, thresholds={w: GRID[hi[w]] for w in lo})
