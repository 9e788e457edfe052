"""kwspot predict: finding files, batched prediction, the CSV, skipped files."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from conftest import make_tone_dataset, write_wav

from kwspot.cli import main
from kwspot.data.audio import read_clip
from kwspot.infer import backend
from kwspot.infer.predict import csv_names, find_audio_files, predict_files


class LoudnessClassifier:
    """A numpy model: 'quiet' below an RMS of 0.05, else 'loud'. Records its batch sizes."""

    labels = ("loud", "quiet", "silence", "unknown")
    sample_rate = 16000
    clip_samples = 16000
    source = "toy"
    model_name = "toy"

    def __init__(self) -> None:
        self.batches: list[int] = []

    def predict_proba(self, waves: np.ndarray) -> np.ndarray:
        self.batches.append(len(waves))
        loud = np.sqrt((waves.astype(np.float64) ** 2).mean(axis=1)) > 0.05
        p = np.full((len(waves), 4), 0.1, dtype=np.float32)
        p[:, 0] = np.where(loud, 0.7, 0.1)
        p[:, 1] = np.where(loud, 0.1, 0.7)
        return p


def _tone(amplitude: float, n: int = 16000) -> np.ndarray:
    t = np.arange(n) / 16000
    return (amplitude * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)


@pytest.fixture
def clips(tmp_path: Path) -> Path:
    """root/{a,b/c}/...: loud and quiet clips, one short, one long, one FLAC."""
    root = tmp_path / "clips"
    write_wav(root / "loud1.wav", _tone(0.5))
    write_wav(root / "quiet1.wav", _tone(0.01))
    write_wav(root / "a" / "loud2.WAV", _tone(0.3, 8000))  # short: zero-padded
    write_wav(root / "a" / "quiet2.wav", _tone(0.02, 24000))  # long: middle second
    write_wav(root / "b" / "c" / "loud3.flac", _tone(0.4))
    (root / "notes.txt").write_text("not audio")
    write_wav(root / ".hidden" / "x.wav", _tone(0.5))
    return root


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> LoudnessClassifier:
    clf = LoudnessClassifier()

    def load(path: str, **kw) -> LoudnessClassifier:
        clf.load_kw = kw
        return clf

    monkeypatch.setattr(backend, "load_classifier", load)
    return clf


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_find_audio_files(clips: Path, tmp_path: Path) -> None:
    found = find_audio_files([clips, clips / "loud1.wav"])
    names = [p.name for p in found]
    assert names == ["loud2.WAV", "quiet2.wav", "loud3.flac", "loud1.wav", "quiet1.wav"]
    assert csv_names(found) == names  # unique base names: Kaggle's fname
    kaggle = tmp_path / "kaggle"
    write_wav(kaggle / "test" / "audio" / "clip_1.wav", _tone(0.1))
    write_wav(kaggle / "train" / "audio" / "yes" / "x_nohash_0.wav", _tone(0.1))
    assert [p.name for p in find_audio_files([kaggle])] == ["clip_1.wav"]
    write_wav(clips / "b" / "loud1.wav", _tone(0.5))  # a repeated base name
    assert csv_names(find_audio_files([clips])) == [
        "a/loud2.WAV", "a/quiet2.wav", "b/c/loud3.flac", "b/loud1.wav", "loud1.wav",
        "quiet1.wav"]


def test_predict_files_in_batches_keeps_order(clips: Path) -> None:
    clf = LoudnessClassifier()
    paths = find_audio_files([clips])
    preds = predict_files(clf, paths, batch_size=2, workers=3)
    assert clf.batches == [2, 2, 1]
    assert preds.predicted == ["loud", "quiet", "loud", "loud", "quiet"]
    assert preds.ok.all() and not preds.skipped
    direct = clf.predict_proba(np.stack([read_clip(p) for p in paths]).astype(np.float32)
                               / 32768)
    np.testing.assert_array_equal(preds.probs, direct)
    assert preds.counts() == {"loud": 3, "quiet": 2, "silence": 0, "unknown": 0}


def test_predict_files_with_tta_averages_the_shifted_and_louder_copies(clips: Path) -> None:
    from kwspot.infer.tta import num_variants, tta_variants

    clf = LoudnessClassifier()
    paths = find_audio_files([clips])
    preds = predict_files(clf, paths, batch_size=8, tta=True)
    assert clf.batches == [5] * num_variants() == [5] * 7
    x = np.stack([read_clip(p) for p in paths]).astype(np.float32) / 32768
    mean = np.mean([clf.predict_proba(v) for v in tta_variants(x, 16000)], axis=0)
    np.testing.assert_allclose(preds.probs, mean, rtol=1e-6)


def test_predict_command_writes_the_csv(clips: Path, tmp_path: Path, toy, capsys) -> None:
    out = tmp_path / "sub.csv"
    assert main(["predict", "--checkpoint", "m.onnx", str(clips), "--out", str(out)]) == 0
    assert out.read_text().splitlines()[0] == "fname,label"
    rows = _rows(out)
    assert {r["fname"]: r["label"] for r in rows} == {
        "loud2.WAV": "loud", "quiet2.wav": "quiet", "loud3.flac": "loud", "loud1.wav": "loud",
        "quiet1.wav": "quiet"}
    text = capsys.readouterr().out
    assert "5 of 5 files predicted" in text and "files/s" in text
    assert "loud 3, quiet 2, silence 0, unknown 0" in text

    assert main(["predict", "--checkpoint", "m.onnx", str(clips), "--out", str(out),
                 "--probs", "--threads", "1"]) == 0
    assert toy.load_kw == {"device": "cpu", "threads": 1}
    rows = _rows(out)
    assert list(rows[0]) == ["fname", "label", "p_loud", "p_quiet", "p_silence", "p_unknown"]
    for r in rows:
        p = np.array([float(r[f"p_{c}"]) for c in LoudnessClassifier.labels])
        assert p.sum() == pytest.approx(1.0, abs=1e-5)
        assert LoudnessClassifier.labels[int(p.argmax())] == r["label"]


def test_unreadable_files_are_reported_and_skipped(clips: Path, tmp_path: Path, toy,
                                                   capsys) -> None:
    (clips / "broken.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage" + bytes(40))
    write_wav(clips / "slow.wav", _tone(0.5, 8000)[::2], sr=8000)
    out = tmp_path / "sub.csv"
    rc = main(["predict", "--checkpoint", "m.onnx", str(clips), "--out", str(out),
               "--batch-size", "3"])
    captured = capsys.readouterr()
    assert rc == 1
    err = captured.err.splitlines()
    assert [ln for ln in err if "broken.wav" in ln and "cannot read audio" in ln]
    assert [ln for ln in err if "slow.wav" in ln and "8000 Hz" in ln]
    assert "skipped 2 file(s)" in captured.err
    assert "5 of 7 files predicted" in captured.out
    assert sorted(r["fname"] for r in _rows(out)) == sorted(
        ["loud2.WAV", "quiet2.wav", "loud3.flac", "loud1.wav", "quiet1.wav"])
    # --resample converts the 8 kHz file; the broken one is still skipped
    rc = main(["predict", "--checkpoint", "m.onnx", str(clips), "--out", str(out),
               "--resample"])
    assert rc == 1 and "skipped 1 file(s)" in capsys.readouterr().err
    assert {r["fname"]: r["label"] for r in _rows(out)}["slow.wav"] == "loud"


def test_missing_input_is_a_one_line_error(tmp_path: Path, toy, capsys) -> None:
    assert main(["predict", "--checkpoint", "m.onnx", str(tmp_path / "nope")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["predict", "--checkpoint", "m.onnx", str(tmp_path / "empty")]) == 2
    assert "no .wav or .flac files" in capsys.readouterr().err


def test_predict_with_a_trained_checkpoint(tmp_path: Path, capsys) -> None:
    from kwspot.config import TrainConfig
    from kwspot.train import train

    data = make_tone_dataset(tmp_path / "tones", speakers=6, per_speaker=1)
    cfg = TrainConfig.resolve(dict(
        data=str(data), words=("yes", "no", "up"), model="vggnet1", iters=2, batch_size=8,
        log_every=1, val_pct=50, test_pct=0, out=str(tmp_path / "run"), device="cpu"))
    train(cfg)
    out = tmp_path / "sub.csv"
    rc = main(["predict", "--checkpoint", str(tmp_path / "run" / "last.pt"), str(data / "yes"),
               str(data / "up"), "--out", str(out), "--probs"])
    assert rc == 0
    rows = _rows(out)
    assert len(rows) == 12 and {r["label"] for r in rows} <= {"yes", "no", "up", "silence",
                                                                "unknown"}
    assert list(rows[0])[2:] == ["p_yes", "p_no", "p_up", "p_silence", "p_unknown"]
    # the same names appear under yes/ and up/ (same speakers): paths relative to their parent
    names = sorted(r["fname"] for r in rows)
    assert names[0].startswith("up/") and names[-1].startswith("yes/")
    assert sorted(p.name for p in (data / "yes").iterdir()) == [n[4:] for n in names[6:]]
    assert "file names repeat" in capsys.readouterr().err
