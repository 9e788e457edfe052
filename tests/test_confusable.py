"""Confusable negatives: eSpeak phonemes, edit-distance ranking, partial phrases."""

from __future__ import annotations

import pytest

from kwspot.data.synth.confusable import cmu_vocabulary, confusable_phrases, phonemize
from kwspot.errors import KwspotError

VOCABULARY = ["commuter", "compete", "come", "pewter", "computers", "banana", "hey", "hay",
              "kitchen", "chicken", "oak", "yellow", "compute", "potato", "computer"]


def test_phonemes_come_from_espeak():
    computer, commuter = phonemize(["computer", "commuter"])
    assert computer[0] == "k" and len(computer) == len(commuter) + 1
    assert not any("ˈ" in p or "ˌ" in p for p in computer)
    assert phonemize(["hey computer"])[0] == phonemize(["hey"])[0] + computer


def test_near_words_rank_first_and_two_word_sound_alikes_appear():
    out = confusable_phrases("computer", 8, VOCABULARY)
    assert out[0] == "commuter"  # one phoneme away
    assert "come pewter" in out and "compute" in out
    assert "computer" not in out  # the phrase itself
    assert "computers" not in out  # holds the whole phrase: a detector may fire on it
    assert "banana" not in out and "yellow" not in out
    assert out == confusable_phrases("computer", 8, VOCABULARY)


def test_partial_phrases_and_swapped_words_for_a_phrase():
    out = confusable_phrases("hey computer", 6, VOCABULARY)
    assert out[:2] == ["hey", "computer"]
    assert "hey commuter" in out
    assert "hay computer" not in out  # a homophone of the phrase is not a negative
    assert len(out) == len(set(out)) == 6
    assert confusable_phrases("ok kitchen", 3, VOCABULARY)[:2] == ["ok", "kitchen"]
    assert confusable_phrases("hey computer", 1, VOCABULARY) == ["hey"]


def test_bad_phrase():
    with pytest.raises(KwspotError, match="empty"):
        confusable_phrases("  ", 5, VOCABULARY)


def test_cmu_vocabulary_from_pocketsphinx():
    pytest.importorskip("pocketsphinx", reason="pocketsphinx (the CMU dictionary) not installed")
    words = cmu_vocabulary()
    assert len(words) > 100_000 and words == sorted(words)
    assert {"computer", "commuter", "kitchen", "a", "i"} <= set(words)
    assert "k" not in words and not any("(" in w for w in words[:1000])
