"""Phonetic confirmation: a second, independent opinion on each detection.

The models learn a word from a few thousand clips or from synthetic speech alone; PocketSphinx
(``pip install 'kwspot[wakeword]'``) ships an acoustic model trained on hours of real speech
and the CMU pronouncing dictionary. Its keyphrase search runs over the same stream and reports
where a word's phones beat a free phone loop by a (lenient) margin. A window's score for a
word counts only when the search found the word ending inside that window (or in the
``margin`` before it, or in the look-ahead the model heard past its end); elsewhere it is 0.
The model still decides; the search only vetoes windows in which nothing sounded like the
word, which removes false alarms on speech the model was never shown.

The search's threshold is per word: the most lenient at which the search alone stays under a
rate of phrases per hour of negative audio (:mod:`kwspot.evaluate.confirm_rate`, which
``kwspot score --confirm --calibrate`` and ``kwspot wakeword`` use); without negative audio,
``10 ** -(PER_PHONE * phones)`` (a phrase of more phones falls further behind the phone loop
even when spoken). Results never depend on how the stream is cut (the search is fed in fixed
blocks, starts each stream from the model's cepstral mean, and a window is confirmed only by
what the search knew :data:`DELAY` samples after it), so stored posteriors are confirmed
exactly as the streaming detector confirms them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from kwspot.errors import KwspotError

SAMPLE_RATE = 16000  # what the acoustic model expects
FRAME = 160  # samples per PocketSphinx frame (10 ms)
PER_PHONE = 8.0  # the search threshold is 10 ** -(PER_PHONE * phones of the phrase)
# Shorter phrases are not confirmed by `kwspot wakeword`: a search strict enough to stay quiet
# on speech missed real one-syllable words (the ten Speech Commands words, 2-4 phones, lost
# recall; "snow boy", 5 phones, gained).
MIN_PHONES = 5
MARGIN = 4000  # samples before a window in which the phrase may end (0.25 s)
DELAY = 4000  # samples searched past a window's end before it is confirmed (0.25 s)
BLOCK = 1280  # samples per call into the search: its results depend on how audio is cut
# A new utterance every 10 min keeps the search's bookkeeping small (a phrase said across the
# restart is missed: once in ten minutes of audio, for under a second).
RESTART = 600 * SAMPLE_RATE
# ... and sooner once this many phrases were found in it: each block's bookkeeping reads every
# phrase found in the utterance, which grew quadratic where a lenient threshold fires on most
# syllables (ten words searched at every threshold of the calibration grid at once: 2 min of
# speech took 42 s of CPU, now 6.5). A detector at a calibrated threshold finds a few per
# hour, never this.
MAX_FOUND = 1000

INSTALL = "pip install 'kwspot[wakeword]'"
ALIAS = "kwspotlevel"  # marks the renamed copies of a phrase searched at several thresholds


def level_key(label: str, threshold: float) -> str:
    """Under which name a search over several thresholds reports ``label``'s phrase found at
    ``threshold`` (see :class:`KeyphraseSearch`)."""
    return f"{label}@{threshold:.0e}"


@contextmanager
def _keyfile(lines: Sequence[str]) -> Iterator[str]:
    """A keyphrase list file with ``lines``, removed afterwards."""
    fd, path = tempfile.mkstemp(suffix=".kws", text=True)
    try:
        with os.fdopen(fd, "w") as f:
            f.writelines(lines)
        yield path
    finally:
        os.unlink(path)


def _pocketsphinx() -> Any:
    try:
        import pocketsphinx
    except ImportError:
        raise KwspotError(f"phonetic confirmation needs pocketsphinx ({INSTALL})") from None
    return pocketsphinx


@cache
def _dictionary() -> dict[str, tuple[str, ...]]:
    """The CMU dictionary PocketSphinx bundles: word → phones (first pronunciation)."""
    path = Path(_pocketsphinx().get_model_path()) / "en-us" / "cmudict-en-us.dict"
    if not path.is_file():
        raise KwspotError(f"{path}: pocketsphinx's CMU dictionary is missing")
    out: dict[str, tuple[str, ...]] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        word, _, phones = line.partition(" ")
        if word and "(" not in word:
            out[word] = tuple(phones.split())
    return out


def keyphrase(phrase: str) -> str:
    """``phrase`` as dictionary words: a label's ``_`` or ``-`` are spaces, and a word missing
    from the dictionary is spelled as the fewest dictionary words (two letters or more) that
    make it up (``snowboy`` → ``snow boy``); an error when none do."""
    words = phrase.lower().replace("_", " ").replace("-", " ").split()
    known = _dictionary()
    out = []
    for w in words:
        spelled = w if w in known else _split(w, known)
        if spelled is None:
            raise KwspotError(f"{phrase!r}: {w!r} is not in pocketsphinx's dictionary and is "
                              "not made of words that are: it cannot be confirmed")
        out.append(spelled)
    if not out:
        raise KwspotError(f"{phrase!r}: no words to confirm")
    return " ".join(out)


def _split(word: str, known: dict[str, Any]) -> str | None:
    best: list[list[str] | None] = [[]] + [None] * len(word)  # best[i]: word[:i]
    for i in range(1, len(word) + 1):
        for j in range(i - 1):
            prefix = best[j]
            if prefix is not None and word[j:i] in known:
                cand = [*prefix, word[j:i]]
                if best[i] is None or len(cand) < len(best[i]):
                    best[i] = cand
    return " ".join(best[-1]) if best[-1] else None


def phones(phrase: str) -> int:
    """Phones of a keyphrase (dictionary words), by the dictionary."""
    known = _dictionary()
    return sum(len(known[w]) for w in phrase.split())


@dataclass(frozen=True)
class Confirmation:
    """Which words are confirmed, by which keyphrase and search threshold."""

    phrases: dict[str, str]  # model label → keyphrase (dictionary words)
    thresholds: dict[str, float] = field(default_factory=dict)  # label → search threshold
    # A window the search did not confirm keeps a word's score above this (1: never, a veto):
    # what the model is sure of counts when the search missed it.
    sure: float = 1.0

    @classmethod
    def for_words(cls, words: Sequence[str], *, skip_unknown: bool = False) -> Confirmation:
        """Each word (a model label: ``hey_computer`` is "hey computer") with its keyphrase and
        the threshold for its number of phones; ``skip_unknown``: leave out the words
        :func:`keyphrase` cannot spell (else an error)."""
        phrases = {}
        for w in words:
            try:
                phrases[w] = keyphrase(w)
            except KwspotError:
                if not skip_unknown:
                    raise
        return cls(phrases, {w: 10.0 ** -(PER_PHONE * phones(k)) for w, k in phrases.items()})

    def to_dict(self) -> dict[str, Any]:
        return {"phrases": dict(self.phrases), "thresholds": dict(self.thresholds),
                "sure": self.sure}

    @classmethod
    def from_dict(cls, data: Any, where: str = "model") -> Confirmation:
        try:
            phrases = {str(w): str(k) for w, k in data["phrases"].items()}
            thresholds = {str(w): float(t) for w, t in data["thresholds"].items()}
            sure = float(data.get("sure", 1.0))  # models made before it: a veto
        except (TypeError, KeyError, ValueError, AttributeError):
            raise KwspotError(f"{where}: unreadable phonetic confirmation settings") from None
        if set(thresholds) != set(phrases) or not all(0 < t <= 1 for t in thresholds.values()):
            raise KwspotError(f"{where}: phonetic confirmation needs a threshold in (0, 1] "
                              "for each word")
        if not 0 < sure <= 1:
            raise KwspotError(f"{where}: phonetic confirmation's 'sure' {sure}: must be "
                              "within (0, 1]")
        return cls(phrases, thresholds, sure)

    def describe(self) -> str:
        unconfirmed = ("" if self.sure >= 1 else
                       f"; unconfirmed windows count above {self.sure:g}")
        return "confirmed by keyphrase spotting (" + ", ".join(
            f"{w}: \"{k}\" at {self.thresholds[w]:.0e}" for w, k in self.phrases.items()
        ) + unconfirmed + ")"


class KeyphraseSearch:
    """PocketSphinx keyphrase search over one stream: :meth:`feed` 16-kHz samples, then ask
    :meth:`found` whether a word's phrase ended within spans of the stream.

    With ``levels``, every word is searched at each of those thresholds instead of its own, in
    the same pass (a phrase found at a threshold is found at every more lenient one); the
    results are then keyed by :func:`level_key`."""

    def __init__(self, confirmation: Confirmation, levels: Sequence[float] = ()) -> None:
        ps = _pocketsphinx()
        self.confirmation = confirmation
        self._label = {}
        lines = []
        for label, phrase in confirmation.phrases.items():
            if phrase in self._label:
                raise KwspotError(f"words {self._label[phrase]!r} and {label!r} share the "
                                  f"keyphrase {phrase!r}")
            self._label[phrase] = label
            lines.append(f"{phrase} /{confirmation.thresholds[label]:.3e}/\n")
        model = Path(ps.get_model_path()) / "en-us"
        try:
            with _keyfile(lines) as keyfile:
                self._decoder = ps.Decoder(hmm=str(model / "en-us"),
                                           dict=str(model / "cmudict-en-us.dict"),
                                           kws=keyfile, loglevel="FATAL")
            if levels:
                self._search_levels(levels)
        except RuntimeError as exc:
            raise KwspotError(f"pocketsphinx cannot search {sorted(self._label)}: {exc}"
                              ) from None
        self._cmn = self._decoder.get_cmn()  # the model's; a stream adapts it as it goes
        self.reset()

    def _search_levels(self, levels: Sequence[float]) -> None:
        """Search each phrase at every threshold of ``levels``: one copy of the phrase per
        threshold, its first word renamed (same pronunciations) so that each copy reports
        itself."""
        lines, keys = [], {}
        for label, phrase in self.confirmation.phrases.items():
            first, *rest = phrase.split()
            sounds = [self._decoder.lookup_word(first)]
            while (more := self._decoder.lookup_word(f"{first}({len(sounds) + 1})")):
                sounds.append(more)
            for i, t in enumerate(levels):
                alias = f"{first}_{ALIAS}{i}"
                for n, phones in enumerate(sounds, 1):
                    self._decoder.add_word(alias if n == 1 else f"{alias}({n})", phones, True)
                copy = " ".join([alias, *rest])
                keys[copy] = level_key(label, t)
                lines.append(f"{copy} /{t:.3e}/\n")
        with _keyfile(lines) as keyfile:
            self._decoder.add_kws("levels", keyfile)
        self._decoder.activate_search("levels")
        self._label = keys

    def reset(self) -> None:
        """Forget the stream: the next sample is position 0 again."""
        if getattr(self, "_in_utt", False):
            self._decoder.end_utt()
        self._decoder.set_cmn(self._cmn)  # the last stream's adaptation is forgotten too
        self._decoder.start_utt()
        self._in_utt = True
        self.searched = 0  # samples searched
        self._pending = np.zeros(0, dtype=np.int16)  # samples short of a block
        self._utt_start = 0
        self._utt_found = 0  # phrases found in the current utterance
        # Per word: where each found phrase ended, and how far the search was then.
        self._found: dict[str, dict[int, int]] = {k: {} for k in self._label.values()}
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def feed(self, samples: np.ndarray) -> None:
        """Append float samples in [-1, 1] at 16 kHz. They are searched in blocks of
        :data:`BLOCK` samples, so that the results do not depend on how the stream is cut;
        the samples short of a block wait for the next call."""
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        pcm = np.concatenate([self._pending, (np.clip(x, -1.0, 1.0) * 32767.0
                                              ).astype(np.int16)])
        whole = len(pcm) // BLOCK * BLOCK
        self._pending = pcm[whole:]
        for i in range(0, whole, BLOCK):
            self._decoder.process_raw(pcm[i:i + BLOCK].tobytes(), False, False)
            self.searched += BLOCK
            if self.searched - self._utt_start >= RESTART or self._utt_found >= MAX_FOUND:
                self._decoder.end_utt()
                self._collect()
                self._decoder.start_utt()
                self._utt_start = self.searched
                self._utt_found = 0
            else:
                self._collect()  # after every block: when a phrase was found is kept

    def _collect(self) -> None:
        self._utt_found = 0
        for seg in self._decoder.seg() or []:
            self._utt_found += 1
            label = self._label.get(seg.word.strip())
            if label is not None:
                end = self._utt_start + (seg.end_frame + 1) * FRAME
                if end not in self._found[label]:
                    self._found[label][end] = self.searched
                    self._arrays.pop(label, None)

    def ends(self, label: str) -> np.ndarray:
        """Stream positions (samples) where ``label``'s phrase was found to end, sorted."""
        return self.results()[label][0]

    def results(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per word: where each found phrase ended and how far the search was then (sorted by
        the end; the :class:`Found` of the stream so far)."""
        for label in self._found:
            if label not in self._arrays:
                items = sorted(self._found[label].items())
                self._arrays[label] = (np.array([e for e, _ in items], dtype=np.int64),
                                       np.array([s for _, s in items], dtype=np.int64))
        return dict(self._arrays)

    def found(self, label: str, lo: np.ndarray, hi: np.ndarray, by: np.ndarray
              ) -> np.ndarray:
        """See :meth:`Found.found`, for the stream so far."""
        return Found(self.confirmation, self.results()).found(label, lo, hi, by)


@dataclass(frozen=True)
class Found:
    """What a search found in one stream (:meth:`KeyphraseSearch.results`), kept."""

    confirmation: Confirmation
    results: dict[str, tuple[np.ndarray, np.ndarray]]  # word → (ends, searched then)

    def found(self, label: str, lo: np.ndarray, hi: np.ndarray, by: np.ndarray
              ) -> np.ndarray:
        """For each span ``[lo[i], hi[i]]`` of the stream: did the phrase end inside it, as
        known once ``by[i]`` samples were searched? (The search settles on a phrase a little
        after it ends; asking as of a fixed point keeps the answer the same however far the
        search has gone since.)"""
        ends, seen = self.results[label]
        a = np.searchsorted(ends, np.asarray(lo), side="left")
        b = np.searchsorted(ends, np.asarray(hi), side="right")
        return np.array([bool((seen[i:j] <= t).any())
                         for i, j, t in zip(a, b, np.asarray(by), strict=True)], dtype=bool)


def confirm_probs(search: KeyphraseSearch | Found, labels: tuple[str, ...] | list[str],
                  probs: np.ndarray, ends: np.ndarray, window: int, lookahead: int
                  ) -> np.ndarray:
    """``probs`` ``[windows, classes]`` of windows ending at ``ends`` (stream samples, each
    ``window`` long, having heard ``lookahead`` more), each confirmed word's column 0 where
    the search found no phrase ending in ``[end - window - MARGIN, end + lookahead]`` by the
    time it had searched :data:`DELAY` samples past that, unless above the confirmation's
    :attr:`~Confirmation.sure`."""
    out = np.array(probs, copy=True)
    ends = np.asarray(ends, dtype=np.int64)
    sure = search.confirmation.sure
    for label in search.confirmation.phrases:
        if label in labels:
            ok = search.found(label, ends - window - MARGIN, ends + lookahead,
                              ends + lookahead + DELAY)
            k = list(labels).index(label)
            out[:, k] *= ok | (out[:, k] > sure)
    return out


class ConfirmedScorer:
    """A model's stream scorer whose word scores are confirmed (see the module docstring).
    Each window is given out once the search is :data:`DELAY` samples past what it heard."""

    delay = DELAY

    def __init__(self, scorer: Any, confirmation: Confirmation, labels: tuple[str, ...],
                 window: int, search: KeyphraseSearch | None = None) -> None:
        self._scorer, self._labels, self._window = scorer, tuple(labels), int(window)
        self.search = search or KeyphraseSearch(confirmation)
        self.reset()

    @property
    def hop(self) -> int:
        return self._scorer.hop

    @property
    def lag(self) -> int:
        return self._scorer.lag

    def reset(self) -> None:
        self._scorer.reset()
        self.search.reset()
        self._held: list[tuple[np.ndarray, np.ndarray]] = []

    def push(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Windows completed by ``samples`` (and held before) whose confirmation is known."""
        self.search.feed(samples)
        probs, ends = self._scorer.push(samples)
        if len(ends):
            self._held.append((np.asarray(probs), np.asarray(ends, dtype=np.int64)))
        if not self._held:
            return probs, ends
        probs = np.concatenate([p for p, _ in self._held])
        ends = np.concatenate([e for _, e in self._held])
        ready = ends + self._scorer.lag + DELAY <= self.search.searched
        self._held = [(probs[~ready], ends[~ready])] if (~ready).any() else []
        return (confirm_probs(self.search, self._labels, probs[ready], ends[ready],
                              self._window, self._scorer.lag), ends[ready])


_SEARCHES: dict[str, KeyphraseSearch] = {}  # one per confirmation, for one stream at a time


def shared_search(confirmation: Confirmation, levels: Sequence[float] = ()
                  ) -> KeyphraseSearch:
    """A search kept for ``confirmation`` (and ``levels``; loading the acoustic model takes a
    while): for streams searched one after another, never two at once."""
    import json

    key = json.dumps([confirmation.to_dict(), list(levels)], sort_keys=True)
    if key not in _SEARCHES:
        _SEARCHES[key] = KeyphraseSearch(confirmation, levels)
    return _SEARCHES[key]


def confirmed_scorer(classifier: Any, scorer: Any, *, shared: bool = False) -> Any:
    """``scorer`` (a model's stream scorer, or None) confirmed as the model's
    ``confirmation`` says (its operating point's, or what a caller set); as it is without one.
    Only a model with a stream scorer (on the speech embedding) can be confirmed. ``shared``:
    use :func:`shared_search` (one stream at a time)."""
    confirmation = getattr(classifier, "confirmation", None)
    if confirmation is None:
        return scorer
    if scorer is None:
        raise KwspotError(f"{getattr(classifier, 'source', 'model')}: phonetic confirmation "
                          "needs a model on the speech embedding (run on the CPU)")
    if int(classifier.sample_rate) != SAMPLE_RATE:
        raise KwspotError(f"{classifier.source}: phonetic confirmation needs a 16-kHz model")
    return ConfirmedScorer(scorer, confirmation, tuple(classifier.labels),
                           int(classifier.clip_samples),
                           shared_search(confirmation) if shared else None)
