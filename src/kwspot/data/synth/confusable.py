"""Negatives made for a wake phrase: words and phrases that sound almost like it.

A detector trained only on its phrase and on unrelated words learns to fire on anything that
shares a few sounds with the phrase. Training it on near misses teaches the difference.
:func:`confusable_phrases` finds them by phoneme edit distance (eSpeak NG's IPA phonemes,
stress marks dropped) over a vocabulary, by default the CMU Pronouncing Dictionary's words
as bundled with ``pocketsphinx``:

- partial phrases: ``"hey computer"`` → ``"hey"``, ``"computer"``;
- the phrase with one word swapped for a close word: ``"hey commuter"``;
- single words close to the whole phrase: ``"computer"`` → ``"commuter"``, ``"compete"``;
- two words that together sound close: ``"computer"`` → ``"come pewter"``.

Homophones of the phrase (distance 0) and words that contain the whole phrase's sounds
(``"computers"``) are left out: a detector should fire on those.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from kwspot.data.synth import espeak
from kwspot.errors import KwspotError

ACCENT = "en-us"  # whose pronunciations are compared
_STRESS = str.maketrans("", "", "ˈˌ")
_VOCAB_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_MAX_VOCAB_LEN = 14
_SPLIT_MAX_DISTANCE = 1  # each half of a two-word sound-alike is at most this far off


def cmu_vocabulary() -> list[str]:
    """The words of the CMU Pronouncing Dictionary that ``pocketsphinx`` bundles, sorted.

    Alternative pronunciations (``word(2)``) collapse to one word; only words of letters
    (with at most one inner apostrophe) up to 14 letters are kept, and of single letters
    only "a" and "i" (the others are spelled-out letters).
    """
    path = _cmudict_path()
    words = set()
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            word = line.split(" ", 1)[0].split("(", 1)[0].lower()
            if (_VOCAB_WORD.fullmatch(word) and len(word) <= _MAX_VOCAB_LEN
                    and (len(word) > 1 or word in "ai")):
                words.add(word)
    return sorted(words)


def _cmudict_path() -> Path:
    try:
        import pocketsphinx
    except ImportError:
        raise KwspotError(
            "pocketsphinx is not installed (pip install 'kwspot[wakeword]'): its bundled "
            "CMU dictionary is the vocabulary for confusable negatives"
        ) from None
    path = Path(pocketsphinx.__file__).parent / "model" / "en-us" / "cmudict-en-us.dict"
    if not path.is_file():
        raise KwspotError(f"{path}: pocketsphinx's CMU dictionary is missing")
    return path


def phonemize(texts: Sequence[str], accent: str = ACCENT) -> list[tuple[str, ...]]:
    """Each text's eSpeak NG phonemes (IPA, stress marks dropped), words run together."""
    paths = espeak.locate_espeak()
    with tempfile.TemporaryDirectory(prefix="kwspot-phonemes-") as tmp:
        library = espeak.private_library_copy(paths.library, Path(tmp))
        with espeak.fresh_engine(library, paths.data) as engine:
            engine.set_voice(accent)
            return [tuple(p.translate(_STRESS) for word in engine.phonemes(text)
                          for p in word if p.translate(_STRESS)) for text in texts]


def vocabulary_phonemes(cache_dir: str | Path | None = None) -> dict[str, tuple[str, ...]]:
    """Phonemes of every :func:`cmu_vocabulary` word, cached on disk after the first call.

    The first call phonemizes ~125,000 words (10-30 s); the cache file is keyed by the
    eSpeak NG version and written atomically.
    """
    from kwspot.data.cache import default_cache_dir

    paths = espeak.locate_espeak()
    version = re.sub(r"[^0-9A-Za-z.]+", "-", espeak.library_version(paths.library))
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = folder / f"phonemes-cmudict-{ACCENT}-espeak-{version}.json"
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        return {w: tuple(p.split()) for w, p in stored.items()}
    except (OSError, ValueError):
        pass
    words = cmu_vocabulary()
    table = dict(zip(words, phonemize(words), strict=True))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({w: " ".join(p) for w, p in table.items()}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # an unwritable cache only costs time
    return table


class _Alphabet:
    """Phoneme tuples as strings of one character per phoneme (for rapidfuzz)."""

    def __init__(self) -> None:
        self._codes: dict[str, str] = {}

    def encode(self, phonemes: Iterable[str]) -> str:
        return "".join(self._codes.setdefault(p, chr(0xE000 + len(self._codes)))
                       for p in phonemes)


def confusable_phrases(phrase: str, n: int = 20,
                       vocabulary: dict[str, tuple[str, ...]] | Sequence[str] | None = None
                       ) -> list[str]:
    """Up to ``n`` words and phrases that sound like ``phrase`` without being it.

    First the partial phrases (for a phrase of several words), then the nearest candidates
    by phoneme edit distance (ties: single words before two-word sound-alikes, then
    alphabetical). ``vocabulary`` is a word list or a word → phonemes table (default:
    :func:`vocabulary_phonemes`). Deterministic for a vocabulary and eSpeak NG version.
    """
    from rapidfuzz.distance import Levenshtein
    from rapidfuzz.process import extract

    words = phrase.lower().split()
    if not words:
        raise KwspotError("confusable phrases: the phrase is empty")
    if n < 1:
        return []
    table = _vocabulary_table(vocabulary)
    target_words = phonemize(words)  # word by word, as the candidates are
    alphabet = _Alphabet()
    target = alphabet.encode(p for w in target_words for p in w)
    names = list(table)
    encoded = [alphabet.encode(table[w]) for w in names]

    def near(query: str, limit: int, max_distance: int | None = None) -> list[tuple[str, int]]:
        hits = extract(query, encoded, scorer=Levenshtein.distance, limit=limit,
                       score_cutoff=max_distance)
        return [(names[i], int(d)) for _, d, i in hits]

    scored: dict[str, tuple[int, int]] = {}  # candidate -> (distance, kind)
    sounds_of: dict[str, str] = {}

    lookup = {**table, **dict(zip(words, target_words, strict=True))}

    def offer(text: str, kind: int) -> None:
        sounds = alphabet.encode(p for w in text.split() for p in lookup[w])
        if not sounds or target in sounds:  # a homophone, or holds the whole phrase
            return
        distance = Levenshtein.distance(target, sounds)
        if text not in scored or (distance, kind) < scored[text]:
            scored[text] = (distance, kind)
            sounds_of[text] = sounds

    pool = max(4 * n, 40)
    for name, _ in near(target, pool):
        offer(name, 0)
    if len(words) > 1:
        for i, sounds in enumerate(target_words):
            for name, _ in near(alphabet.encode(sounds), 8):
                if name != words[i]:
                    offer(" ".join([*words[:i], name, *words[i + 1:]]), 1)
    for cut in range(2, len(target) - 1):
        heads = near(target[:cut], 3, _SPLIT_MAX_DISTANCE)
        tails = near(target[cut:], 3, _SPLIT_MAX_DISTANCE)
        for head, _ in heads:
            for tail, _ in tails:
                offer(f"{head} {tail}", 2)
    partials = partial_phrases(phrase)
    ranked = sorted((c for c in scored if c not in partials and c != " ".join(words)),
                    key=lambda c: (*scored[c], c))
    return (partials + _diverse(ranked, set(words), sounds_of))[:n]


def partial_phrases(phrase: str) -> list[str]:
    """The runs of words of ``phrase`` short of the whole, in the order of their first word,
    shorter first (``"hey computer"`` → ``"hey"``, ``"computer"``); none for a single word."""
    words = phrase.lower().split()
    return [" ".join(words[i:j]) for i in range(len(words))
            for j in range(i + 1, len(words) + 1) if j - i < len(words)]


def _diverse(ranked: list[str], own: set[str], sounds: dict[str, str],
             per_word: int = 2) -> list[str]:
    """``ranked`` without homophones of earlier candidates, and keeping at most ``per_word``
    candidates that use any one word not in the phrase."""
    uses: dict[str, int] = {}
    heard: set[str] = set()
    kept = []
    for text in ranked:
        new = [w for w in text.split() if w not in own]
        if sounds[text] not in heard and all(uses.get(w, 0) < per_word for w in new):
            kept.append(text)
            heard.add(sounds[text])
            for w in new:
                uses[w] = uses.get(w, 0) + 1
    return kept


def _vocabulary_table(vocabulary: dict[str, tuple[str, ...]] | Sequence[str] | None
                      ) -> dict[str, tuple[str, ...]]:
    if vocabulary is None:
        return vocabulary_phonemes()
    if isinstance(vocabulary, dict):
        return dict(vocabulary)
    words = sorted({w.lower() for w in vocabulary if w.strip()})
    return dict(zip(words, phonemize(words), strict=True))
