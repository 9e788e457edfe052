"""Phonetic confirmation (:mod:`kwspot.infer.confirm`) of whole files: the keyphrase search
over each file, in worker processes, and posteriors computed without it confirmed as the
streaming detector would confirm them."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from kwspot.errors import KwspotError
from kwspot.evaluate.posteriors import TAIL_S, Posteriors, read_mono
from kwspot.infer.confirm import (
    BLOCK,
    DELAY,
    SAMPLE_RATE,
    Confirmation,
    Found,
    confirm_probs,
    shared_search,
)


def _search(job: tuple[dict, str, int, tuple[float, ...]]) -> tuple[dict | None, float]:
    """One file's search results and its seconds (None, 0: unreadable)."""
    confirmation, path, tail, levels = job
    try:
        audio, _ = read_mono(path, SAMPLE_RATE)
    except KwspotError:
        return None, 0.0
    search = shared_search(Confirmation.from_dict(confirmation), levels)
    search.reset()
    search.feed(audio)
    if tail:
        search.feed(np.zeros(tail, np.float32))
    return search.results(), len(audio) / SAMPLE_RATE


def search_files(confirmation: Confirmation, paths: Sequence[Path | str], *, tail: int = 0,
                 levels: Sequence[float] = (), workers: int | None = None,
                 on_file: Callable[[], None] | None = None
                 ) -> list[tuple[Found | None, float]]:
    """The search over each file (then ``tail`` zeros; with ``levels``, every word at each of
    those thresholds, see :class:`~kwspot.infer.confirm.KeyphraseSearch`), in ``workers``
    processes (default: the usable CPUs): per file, what it found (None when unreadable) and
    its seconds."""
    jobs = [(confirmation.to_dict(), str(p), int(tail), tuple(levels)) for p in paths]
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = max(1, min(workers or usable or 1, len(jobs)))
    out: list[tuple[Found | None, float]] = []
    if workers == 1:
        results = map(_search, jobs)
        pool = None
    else:
        pool = ProcessPoolExecutor(workers)
        results = pool.map(_search, jobs, chunksize=4)
    try:
        for found, seconds in results:
            out.append((Found(confirmation, found) if found is not None else None, seconds))
            if on_file:
                on_file()
    finally:
        if pool is not None:
            pool.shutdown()
    return out


def confirm_posteriors(posteriors: Sequence[Posteriors], confirmation: Confirmation,
                       labels: Sequence[str], window: int, hop: int, lookahead: int = 0,
                       *, workers: int | None = None,
                       on_file: Callable[[], None] | None = None) -> list[Posteriors]:
    """Posteriors computed without phonetic confirmation, confirmed as the streaming
    detector would confirm them: the keyphrase search runs over each file again (and the
    zeros the stream ends with)."""
    tail = round(TAIL_S * SAMPLE_RATE) + lookahead + DELAY + BLOCK
    searched = search_files(confirmation, [p.source for p in posteriors], tail=tail,
                            workers=workers, on_file=on_file)
    out = []
    for p, (found, _) in zip(posteriors, searched, strict=True):
        if found is None:
            raise KwspotError(f"{p.source}: cannot read audio to confirm")
        probs = confirm_probs(found, tuple(labels), p.probs, p.window_ends(hop), window,
                              lookahead)
        out.append(replace(p, probs=probs.astype(np.float32)))
    return out
