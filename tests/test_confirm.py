"""Phonetic confirmation: PocketSphinx's keyphrase search vetoes windows in which nothing
sounded like the word, the same way in streaming detection and on stored posteriors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import embedding_checkpoint

from kwspot.errors import KwspotError

pytest.importorskip("pocketsphinx", reason="pocketsphinx is not installed (kwspot[wakeword])")

from kwspot.infer.confirm import (  # noqa: E402
    DELAY,
    MARGIN,
    Confirmation,
    KeyphraseSearch,
    confirm_probs,
    keyphrase,
    phones,
)


def test_keyphrases_are_spelled_with_dictionary_words() -> None:
    assert keyphrase("snowboy") == "snow boy"
    assert keyphrase("hey_computer") == "hey computer"
    assert keyphrase("Hey-Computer") == "hey computer"
    assert phones("computer") == 8  # K AH M P Y UW T ER
    with pytest.raises(KwspotError, match="'qzxv' is not in pocketsphinx's dictionary"):
        keyphrase("qzxv")


def test_thresholds_loosen_with_the_phones_of_a_phrase() -> None:
    c = Confirmation.for_words(["computer", "snowboy", "go", "qzxv"], skip_unknown=True)
    assert c.phrases == {"computer": "computer", "snowboy": "snow boy", "go": "go"}
    assert c.thresholds["computer"] == pytest.approx(1e-64)
    assert c.thresholds["go"] > c.thresholds["snowboy"] > c.thresholds["computer"]
    with pytest.raises(KwspotError, match="qzxv"):
        Confirmation.for_words(["qzxv"])
    assert Confirmation.from_dict(c.to_dict()) == c and c.sure == 1.0
    softer = replace(c, sure=0.9)
    assert Confirmation.from_dict(softer.to_dict()) == softer
    older = {k: v for k, v in softer.to_dict().items() if k != "sure"}
    assert Confirmation.from_dict(older).sure == 1.0  # models made before it: a veto
    for bad in (None, {"phrases": {"go": "go"}}, {"phrases": {"go": "go"},
                                                  "thresholds": {"go": 2.0}},
                {**softer.to_dict(), "sure": 0}):
        with pytest.raises(KwspotError, match="m.pt: .*confirmation"):
            Confirmation.from_dict(bad, "m.pt")


class _Search:
    """Stands for a search that found "yes" ending at the given stream positions."""

    def __init__(self, ends: list[int], seen: list[int], sure: float = 1.0) -> None:
        self.confirmation = Confirmation({"yes": "yes"}, {"yes": 1e-24}, sure)
        self.ends, self.seen = np.array(ends), np.array(seen)

    def found(self, label: str, lo, hi, by) -> np.ndarray:
        return np.array([bool(((self.ends >= a) & (self.ends <= b) & (self.seen <= t)).any())
                         for a, b, t in zip(lo, hi, by, strict=True)])


def test_only_windows_holding_the_end_of_a_phrase_keep_the_words_score() -> None:
    labels = ("silence", "unknown", "yes", "no")
    window, hop = 16000, 1280
    ends = hop * np.arange(1, 60)
    probs = np.full((len(ends), 4), 0.25)
    found_at = 40000
    out = confirm_probs(_Search([found_at], [found_at + 1280]), labels, probs, ends, window, 0)
    keep = (found_at >= ends - window - MARGIN) & (found_at <= ends)
    assert keep.any() and (~keep).any()
    assert (out[keep, 2] == 0.25).all() and (out[~keep, 2] == 0).all()
    assert (out[:, [0, 1, 3]] == 0.25).all()  # other columns untouched
    # a phrase the search settled on only later than DELAY past a window does not count there
    late = confirm_probs(_Search([found_at], [found_at + DELAY + 5 * hop]), labels, probs,
                         ends, window, 0)
    assert late[:, 2].sum() < out[:, 2].sum()


def test_unconfirmed_windows_keep_scores_above_sure() -> None:
    labels = ("yes", "unknown")
    window, hop = 16000, 1280
    ends = hop * np.arange(1, 60)
    probs = np.tile(np.linspace(0, 1, len(ends))[:, None], (1, 2))
    found_at = 40000
    veto = confirm_probs(_Search([found_at], [found_at]), labels, probs, ends, window, 0)
    soft = confirm_probs(_Search([found_at], [found_at], 0.6), labels, probs, ends, window, 0)
    confirmed = veto[:, 0] > 0
    assert confirmed.any() and (veto[~confirmed, 0] == 0).all()
    sure = probs[:, 0] > 0.6
    assert (soft[confirmed | sure, 0] == probs[confirmed | sure, 0]).all()
    assert (soft[~(confirmed | sure), 0] == 0).all() and (~(confirmed | sure)).any()
    assert (soft[:, 1] == probs[:, 1]).all()


def _speech(shared_data: Path, word: str, n: int) -> np.ndarray:
    from kwspot.evaluate.posteriors import read_mono

    files = sorted((shared_data / "sc_v2_test_part" / word).glob("*.wav"))[:n]
    if len(files) < n:
        pytest.skip(f"fewer than {n} clips of {word!r} in the shared data")
    gap = np.zeros(8000, np.float32)
    return np.concatenate([x for f in files for x in (read_mono(f, 16000)[0], gap)])


def test_the_search_finds_real_words_however_the_stream_is_cut(shared_data: Path) -> None:
    audio = np.concatenate([_speech(shared_data, "yes", 4), _speech(shared_data, "no", 4)])
    search = KeyphraseSearch(Confirmation.for_words(["yes"]))
    search.feed(audio)
    whole = search.ends("yes").copy()
    assert 2 <= len(whole)
    assert (whole < len(audio) // 2 + 16000).sum() >= 2  # most where "yes" was said
    for chunk in (777, 1280, 16000):
        search.reset()  # forgets the stream, and how it adapted to it
        for i in range(0, len(audio), chunk):
            search.feed(audio[i:i + chunk])
        assert np.array_equal(search.ends("yes"), whole), chunk


def test_streaming_and_stored_posteriors_are_confirmed_alike(shared_data: Path,
                                                             tmp_path: Path) -> None:
    """`detect` (a confirmed stream scorer) and `score` on stored posteriors
    (:func:`confirm_posteriors`) veto the same windows."""
    pytest.importorskip("pyopen_wakeword", reason="pyopen-wakeword is not installed")
    import soundfile as sf

    from kwspot.data.labels import LabelSet
    from kwspot.evaluate.confirmed import confirm_posteriors
    from kwspot.evaluate.posteriors import file_posteriors
    from kwspot.infer.backend import load_classifier
    from kwspot.infer.detector import DetectorConfig, StreamingDetector
    from kwspot.infer.filedetect import detect_file

    labels = LabelSet().names
    embedding_checkpoint(tmp_path / "emb.pt")
    wav = tmp_path / "talk.wav"
    sf.write(wav, np.concatenate([_speech(shared_data, "no", 3), _speech(shared_data, "yes", 3)]),
             16000)
    clf = load_classifier(tmp_path / "emb.pt", threads=1)
    plain = file_posteriors(clf, wav, 1280)
    clf.confirmation = Confirmation.for_words(["yes"])
    live = file_posteriors(clf, wav, 1280)
    yes = labels.index("yes")
    n = len(plain.probs)
    assert np.array_equal(live.ends[:n], plain.ends)
    vetoed = live.probs[:n, yes] == 0
    assert vetoed.any() and (~vetoed).any()
    assert np.allclose(live.probs[:n][~vetoed], plain.probs[~vetoed], atol=1e-6)
    others = [i for i in range(len(labels)) if i != yes]
    assert np.allclose(live.probs[:n, others], plain.probs[:, others], atol=1e-6)
    stored = confirm_posteriors([plain], clf.confirmation, labels, clf.clip_samples, 1280,
                                clf.stream_scorer().lag)[0]
    assert np.allclose(stored.probs, live.probs[:n], atol=1e-6)
    # The detector fires only where the search heard "yes"; replayed posteriors decide alike.
    config = DetectorConfig(hop_ms=80, smooth_ms=160, threshold=0.02, words=("yes",))
    found = detect_file(clf, str(wav), config).detections
    assert found
    replayed = StreamingDetector(clf, config).replay(live.probs, live.ends)
    assert [(d.word, round(d.time_s, 6)) for d in found] == \
        [(d.word, round(d.time_s, 6)) for d in replayed[:len(found)]]


def test_a_model_without_a_stream_scorer_cannot_be_confirmed() -> None:
    from kwspot.infer.confirm import confirmed_scorer

    class Plain:
        source, labels, sample_rate, clip_samples = "m.onnx", ("yes",), 16000, 16000
        confirmation = Confirmation({"yes": "yes"}, {"yes": 1e-24})

    with pytest.raises(KwspotError, match="m.onnx: phonetic confirmation needs a model on the "
                       "speech embedding"):
        confirmed_scorer(Plain(), None)


def test_search_thresholds_are_the_most_lenient_quiet_enough(monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    """Each word gets the most lenient threshold of the grid at which the search alone fires
    at most the allowed rate; a word never that quiet gets the strictest. One pass."""
    import kwspot.evaluate.confirm_rate as CR

    # Fake rates: a word's rate falls as its threshold gets stricter (index in the grid).
    quiet_from = {"computer": 0, "snowboy": 5, "go": len(CR.GRID)}
    calls = []

    def fake_rates(c: Confirmation, files, workers=None, on_file=None):  # noqa: ANN001, ARG001
        calls.append(files)
        return {w: [10.0 if i >= quiet_from[w] else 1000.0 for i in range(len(CR.GRID))]
                for w in c.phrases}, 1.0

    monkeypatch.setattr(CR, "rates", fake_rates)
    c = Confirmation.for_words(list(quiet_from))
    chosen = CR.calibrate_search(c, ["a.wav"], max_per_hour=300)
    assert chosen.thresholds == {"computer": CR.GRID[0], "snowboy": CR.GRID[5],
                                 "go": CR.GRID[-1]}
    assert chosen.phrases == c.phrases
    assert len(calls) == 1
    with pytest.raises(KwspotError, match="needs negative audio"):
        CR.calibrate_search(c, [])


def test_search_rates_count_phrases_per_hour(shared_data: Path, tmp_path: Path) -> None:
    """Rates per threshold in one pass: never fewer phrases at a more lenient threshold, and
    at each threshold what a search at that threshold alone finds."""
    import soundfile as sf

    from kwspot.evaluate.confirm_rate import rates
    from kwspot.evaluate.confirmed import search_files

    audio = _speech(shared_data, "yes", 4)
    sf.write(tmp_path / "yes.wav", audio, 16000)
    sf.write(tmp_path / "quiet.wav", np.zeros(16000 * 4, np.float32), 16000)
    files = [tmp_path / "yes.wav", tmp_path / "quiet.wav"]
    levels = (1e-40, 1e-20, 1e-5, 1.0)
    per_hour, hours = rates(Confirmation.for_words(["yes"]), files, levels=levels, workers=1)
    assert hours == pytest.approx((len(audio) + 16000 * 4) / 16000 / 3600)
    counts = [round(r * hours) for r in per_hour["yes"]]
    assert counts[0] >= 2  # found in the speech, not in silence
    assert counts == sorted(counts, reverse=True)
    for t, n in zip(levels, counts, strict=True):
        alone = search_files(Confirmation({"yes": "yes"}, {"yes": t}), files, workers=1)
        assert sum(len(f.results["yes"][0]) for f, _ in alone) == n


def test_score_calibrates_the_search_and_detect_confirms_by_default(
        shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`score --confirm --calibrate` chooses the search's thresholds on the calibration half and
    stores them with the model's; `detect` then confirms unless told not to."""
    pytest.importorskip("pyopen_wakeword", reason="pyopen-wakeword is not installed")
    import soundfile as sf
    from test_stream import kwspot

    from kwspot.evaluate.confirm_rate import GRID
    from kwspot.infer.backend import load_classifier

    pt = embedding_checkpoint(tmp_path / "emb.pt")
    (tmp_path / "pos" / "yes").mkdir(parents=True)
    sf.write(tmp_path / "pos" / "yes" / "a.wav", _speech(shared_data, "yes", 1), 16000)
    (tmp_path / "neg").mkdir()
    for i, word in enumerate(("no", "up", "down", "left")):  # four "speakers": both halves
        sf.write(tmp_path / "neg" / f"s{i}_talk.wav", _speech(shared_data, word, 2), 16000)
    code, out, err = kwspot(capsys, "score", "--model", pt, "--positives",
                            tmp_path / "pos" / "yes", "--negatives", tmp_path / "neg",
                            "--words", "yes", "--confirm", "--calibrate", "50",
                            "--save-model", tmp_path / "m2.pt")
    assert code == 0, err
    assert "choosing the keyphrase search's thresholds" in err
    clf = load_classifier(tmp_path / "m2.pt")
    assert clf.confirmation is not None and clf.confirmation.thresholds["yes"] in GRID
    code, _, err = kwspot(capsys, "detect", tmp_path / "pos" / "yes" / "a.wav", "--model",
                          tmp_path / "m2.pt")
    assert code == 0 and 'confirmed by keyphrase spotting (yes: "yes"' in err
    code, _, err = kwspot(capsys, "detect", tmp_path / "pos" / "yes" / "a.wav", "--model",
                          tmp_path / "m2.pt", "--no-confirm")
    assert code == 0 and "but not confirmed phonetically (as asked)" in err
    # --confirm on a model that confirms keeps its calibrated search thresholds.
    code, _, err = kwspot(capsys, "detect", tmp_path / "pos" / "yes" / "a.wav", "--model",
                          tmp_path / "m2.pt", "--confirm")
    stored = f'"yes" at {clf.confirmation.thresholds["yes"]:.0e}'
    assert code == 0 and stored in err and "as asked" not in err


def test_a_search_finding_many_phrases_restarts_and_keeps_finding(
        shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once MAX_FOUND phrases were found in an utterance the search starts a new one (its
    bookkeeping stays small where a lenient threshold fires on most syllables): it goes on
    finding phrases, the same however the stream is cut."""
    import kwspot.infer.confirm as KC

    audio = _speech(shared_data, "yes", 6)
    lenient = Confirmation({"yes": "yes"}, {"yes": 1e-80})
    search = KeyphraseSearch(lenient)
    search.feed(audio)
    uncapped = search.ends("yes").copy()
    monkeypatch.setattr(KC, "MAX_FOUND", 3)
    search.reset()
    search.feed(audio)
    capped = search.ends("yes").copy()
    assert search._utt_start > 0  # a new utterance began within these seconds
    assert len(uncapped) > 6 and len(capped) > 6  # found after each restart too
    assert capped.max() > len(audio) * 3 // 4  # the last clips still searched
    search.reset()
    for part in np.array_split(audio, 7):
        search.feed(part)
    assert np.array_equal(search.ends("yes"), capped)
