"""kwspot wakeword: fast window posteriors, a tiny phrase run end to end, and its errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_wav

from kwspot.errors import KwspotError


@pytest.fixture(scope="module")
def weights() -> None:
    from kwspot.embedding.weights import load_weights

    try:
        load_weights(None)
    except KwspotError as exc:
        pytest.skip(f"speech-embedding weights unavailable: {exc}")


def _speechlike(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Noise bursts shaped like syllables, with a drifting tone: audio with structure."""
    n = int(seconds * 16000)
    t = np.arange(n) / 16000
    env = (np.sin(2 * np.pi * 3.1 * t) > 0.2) * rng.uniform(0.05, 0.3)
    tone = np.sin(2 * np.pi * (180 + 40 * np.sin(t)) * t)
    return ((0.5 * rng.standard_normal(n) + tone) * env * 0.3).astype(np.float32)


def test_window_probs_equal_the_model_run_on_every_window(weights) -> None:
    from kwspot.evaluate.posteriors import window_posteriors
    from kwspot.features import FrontendConfig
    from kwspot.network import build_net
    from kwspot.wakeword.windows import HOP, stream_embeddings, window_probs

    torch.manual_seed(0)
    clip = 27 * HOP  # 2.16 s
    net = build_net("emb_conv", 3, FrontendConfig(kind="embedding", embedding_pad_ms=0)).eval()

    class Whole:
        labels, sample_rate, clip_samples, source = ("a", "b", "unknown"), 16000, clip, "net"

        def predict_proba(self, w: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return torch.softmax(net(torch.from_numpy(w)), 1).numpy()

    audio = _speechlike(np.random.default_rng(1), 3.3)
    want = window_posteriors(Whole(), audio, HOP)
    got = window_probs(net.classifier, stream_embeddings(net.frontend.embedding, audio, clip),
                       len(audio), clip)
    assert got.shape == want.shape
    assert np.abs(got - want).max() < 2e-3  # embeddings are stored as float16
    with pytest.raises(KwspotError, match="multiple of 1280"):
        window_probs(net.classifier, np.zeros((10, 96), np.float16), 16000, 16000)


@pytest.fixture(scope="module")
def negatives(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve 4-s files of speech-like audio, named by twelve 'sessions'."""
    folder = tmp_path_factory.mktemp("negatives")
    rng = np.random.default_rng(0)
    for i in range(12):
        write_wav(folder / f"s{i:02d}_take.wav", _speechlike(rng, 4.0))
    (folder / "broken.flac").write_bytes(b"not audio")
    return folder


@pytest.fixture(scope="module")
def other_words(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Speech Commands-like folders of short clips, one named after a word of the phrase."""
    folder = tmp_path_factory.mktemp("other_words")
    rng = np.random.default_rng(1)
    for word in ("yes", "Computer", "left"):
        for i in range(2):
            write_wav(folder / word / f"spk{i}_nohash_0.wav", _speechlike(rng, 0.8))
    write_wav(folder / "long.wav", _speechlike(rng, 3.0))
    # Speech Commands' test-set layout: other words in one folder, named WORD_SPEAKER_...
    write_wav(folder / "_unknown_" / "computer_spk9_nohash_0.wav.wav", _speechlike(rng, 0.8))
    return folder


def test_other_words_leave_out_the_phrase_words_and_fill_a_window(other_words) -> None:
    from kwspot.wakeword.other_words import other_word_clips, other_word_files

    files = other_word_files([other_words], ["hey computer"])
    assert {f.parent.name for f in files} == {"yes", "left", other_words.name}
    assert len(files) == 5  # Computer/ and _unknown_/computer_* left out: a word of the phrase
    assert len(other_word_files([other_words], ["snowboy"])) == 8
    clips = other_word_clips(files, 32000, seed=0)
    assert clips.shape == (5, 32000) and clips.dtype == np.int16
    # a short clip sits somewhere in the window, the rest silent; the long one fills it
    spans = sorted(int(np.ptp(np.flatnonzero(c))) for c in clips)
    assert spans[-1] > 0.9 * 32000 and 0.5 * 16000 < spans[0] and spans[-2] <= 0.8 * 16000
    assert len({int(np.flatnonzero(c)[0]) for c in clips}) > 2  # at random positions


def test_partial_phrases_are_negatives_and_sound_alikes_only_when_asked(monkeypatch) -> None:
    from kwspot.data.synth import confusable
    from kwspot.wakeword.synthesis import negative_words

    def no_search(*_args, **_kwargs):
        raise AssertionError("sound-alikes searched for although none were asked for")

    monkeypatch.setattr(confusable, "confusable_phrases", no_search)
    others, alike = negative_words(["hey computer", "snowboy"], 0)
    assert alike == ["hey", "computer"]  # the detector decides on the whole phrase
    assert "hey" not in others and "hello" in others
    monkeypatch.setattr(confusable, "confusable_phrases",
                        lambda p, n: ([*confusable.partial_phrases(p), "a", "b", "c"])[:n])
    assert negative_words(["hey computer", "snowboy"], 2)[1] == ["hey", "computer", "a", "b"]


def test_unconfirmed_windows_need_what_the_head_alone_would_need() -> None:
    from types import SimpleNamespace

    from kwspot.infer.confirm import Confirmation
    from kwspot.wakeword.pipeline import trusted_alone

    conf = Confirmation({"computer": "computer"}, {"computer": 1e-30}, sure=0.9)

    def report(thresholds):
        return SimpleNamespace(calibration=None if thresholds is None else
                               SimpleNamespace(thresholds=thresholds))

    # one loud calibration file put the head's own threshold near 1: unconfirmed windows
    # must reach it too, or that file passes unconfirmed
    assert trusted_alone(conf, report({"computer": 0.993})).sure == 0.993
    assert trusted_alone(conf, report({"a": 0.95, "b": 0.8})).sure == 0.95  # the highest
    assert trusted_alone(conf, report({"computer": 0.78})).sure == 0.9  # never lowered
    assert trusted_alone(conf, report(None)) == conf
    assert trusted_alone(conf, report({"computer": 0.993})).thresholds == conf.thresholds


def test_other_words_are_also_heard_through_a_telephone_line() -> None:
    from kwspot.wakeword.other_words import with_telephone_copies

    rng = np.random.default_rng(0)
    clips = (rng.standard_normal((3, 16000)) * 3000).astype(np.int16)
    both = with_telephone_copies(clips)
    assert both.shape == (6, 16000) and both.dtype == np.int16
    assert np.array_equal(both[:3], clips)  # the recordings themselves first, unchanged

    def above_4k(x: np.ndarray) -> float:
        power = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
        return float(power[len(power) // 2:].sum() / power.sum())

    assert all(above_4k(c) > 0.4 for c in clips)  # white noise: half its power above 4 kHz
    assert all(above_4k(c) < 1e-3 and np.abs(c).mean() > 300 for c in both[3:])
    assert with_telephone_copies(clips[:0]).shape == (0, 16000)


def res_net_members(path: Path) -> list:
    from kwspot.checkpoint import Checkpoint

    return list(Checkpoint.load(path).build_net().classifier.members)


def test_the_two_folds_measure_every_negative_file_once() -> None:
    from kwspot.wakeword.pipeline import negative_parts

    files = [Path(f"/audio/s{i:02d}_take.wav") for i in range(40)]
    parts = [negative_parts(files, fold) for fold in (0, 1)]
    for train, cal, measure in parts:
        assert train and cal and measure
        assert sorted([*train, *cal, *measure]) == files  # disjoint, all of them
    assert sorted([*parts[0][2], *parts[1][2]]) == files  # each measured in one fold
    assert sorted([*parts[1][0], *parts[1][1]]) == sorted(parts[0][2])


def test_a_phrase_of_two_words_end_to_end(weights, negatives, other_words, tmp_path) -> None:
    from kwspot.infer.backend import load_classifier
    from kwspot.infer.detector import StreamingDetector
    from kwspot.infer.operating_point import model_operating_point
    from kwspot.wakeword.config import WakewordConfig
    from kwspot.wakeword.pipeline import run_wakeword

    cfg = WakewordConfig(phrases=("hey computer",), out=str(tmp_path / "run"),
                         negatives=(str(negatives),), per_phrase=10, per_negative=3,
                         confusables=2, iters=15, batch_size=16, copies=1, workers=1,
                         other_words=(str(other_words),), heads=2)
    res = run_wakeword(cfg)
    assert res.labels == ("hey_computer", "unknown")
    assert len(res_net_members(res.checkpoint)) == 2  # two heads, averaged
    assert res.window > 32000 and res.window % 1280 == 0  # a longer window for the phrase
    assert min(res.files.values()) > 0 and sum(res.files.values()) == 13
    assert [Path(s.path).name for s in res.report.skipped] == ["broken.flac"]
    for path in (res.checkpoint, res.onnx):
        clf = load_classifier(path)
        assert clf.clip_samples == res.window and clf.labels == res.labels
        op = model_operating_point(clf)
        assert op is not None and set(op.thresholds) == {"hey_computer"}
        det = StreamingDetector(clf, op.detector_config())
        det.feed(_speechlike(np.random.default_rng(5), 3.0))
        assert det.windows > 0
        conf = clf.confirmation  # confirmed by default, its search threshold chosen
        assert conf is not None and conf.phrases == {"hey_computer": "hey computer"}
        assert conf.sure == cfg.unconfirmed_sure  # stored in both model files
    report = json.loads((res.out / "report.json").read_text())
    assert report["window_samples"] == res.window and report["calibration"]["thresholds"]
    assert report["without_confirmation"]["calibration"]["confirm"] is None
    assert run_wakeword(cfg).reused_model  # the trained head is kept
    other = WakewordConfig(**{**cfg.to_dict(), "iters": 16})
    with pytest.raises(KwspotError, match="other settings"):
        run_wakeword(other)


def test_short_words_and_unspellable_ones_are_not_confirmed(tmp_path) -> None:
    pytest.importorskip("pocketsphinx", reason="pocketsphinx is not installed")
    from kwspot.wakeword.config import WakewordConfig
    from kwspot.wakeword.pipeline import _confirmation

    said: list[str] = []
    cfg = WakewordConfig(phrases=("go", "qzxv"), out=str(tmp_path / "run"),
                         negatives=(str(tmp_path),))
    assert _confirmation(cfg, ("go", "qzxv", "unknown"), [], said.append, False) is None
    assert any("dictionary): qzxv" in s for s in said)
    assert any("under 5 phones" in s and s.endswith(": go") for s in said)


@pytest.mark.parametrize("args, message", [
    (["hey!", "--negatives", "."], "not a word or phrase"),
    (["unknown", "--negatives", "."], "unknown"),
    (["computer"], "--negatives"),
    (["computer", "--negatives", ".", "--model", "vggnet1"], "speech embedding"),
    (["computer", "--negatives", ".", "--target-fa-per-hour", "0"], "target_fa_per_hour"),
    (["computer", "--negatives", ".", "--fold", "2"], "fold 2: must be 0 or 1"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, negatives, capsys, args, message) -> None:
    from kwspot.cli import main

    args = [a if a != "." else str(negatives) for a in args]
    assert main(["wakeword", *args, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_a_bad_phrase_exits_2_without_a_traceback(tmp_path) -> None:
    r = subprocess.run([sys.executable, "-m", "kwspot", "wakeword", "hey!", "--out",
                        str(tmp_path / "o"), "--negatives", str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


@pytest.mark.parametrize("kokoro", [True, False])
def test_default_voices_are_kokoro_when_installed_and_the_packaged_piper_voices(
        monkeypatch, tmp_path, kokoro) -> None:
    from kwspot.data.synth import neural
    from kwspot.wakeword.config import WakewordConfig

    monkeypatch.setattr(neural, "kokoro_installed", lambda: kokoro)
    piper = tuple(v.name for v in neural.packaged_voices())
    cfg = WakewordConfig(phrases=("computer",), out=str(tmp_path), negatives=(str(tmp_path),))
    assert cfg.neural_voices == (("kokoro",) if kokoro else ()) + piper
    assert cfg.to_dict()["neural_voices"] == cfg.neural_voices  # a run records its voices
    given = WakewordConfig(phrases=("computer",), out=str(tmp_path),
                           negatives=(str(tmp_path),), neural_voices=("a.onnx",))
    assert given.neural_voices == ("a.onnx",)


@pytest.mark.parametrize("voices, negative_voices, negative_share", [
    (("kokoro", "en_US-joe-medium"), ("en_US-joe-medium",), 0.25),
    (("kokoro",), (), 0.0),
    (("en_US-joe-medium",), ("en_US-joe-medium",), 0.25),
])
def test_kokoro_speaks_the_phrases_only(monkeypatch, tmp_path, voices, negative_voices,
                                        negative_share) -> None:
    from kwspot.wakeword import synthesis

    calls: dict[str, dict] = {}
    monkeypatch.setattr(synthesis, "synthesize",
                        lambda folder, **kw: calls.setdefault(Path(folder).name, kw))
    synthesis.synthesize_sets(("computer",), tmp_path, per_phrase=10, per_negative=3,
                              confusables=0, window=32000, seed=0, workers=1,
                              neural_voices=voices, neural_share=0.25)
    assert calls["positives"]["neural_voices"] == voices
    assert calls["positives"]["neural_share"] == 0.25
    assert calls["negatives"]["neural_voices"] == negative_voices
    assert calls["negatives"]["neural_share"] == negative_share
