"""kwspot evaluate: metrics against a hand-computed confusion matrix, TTA, ensembles, the
command's tables, PNG and JSON on a trained model."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import make_tone_dataset

from kwspot.cli import main
from kwspot.errors import KwspotError
from kwspot.evaluate import (
    TTA_GAINS_DB,
    TTA_SHIFTS_MS,
    confusion_matrix,
    evaluate_classifier,
    evaluate_ensemble,
    format_comparison,
    format_confusion,
    format_per_class,
    plot_confusion,
    result_from_probs,
    tta_variants,
)
from kwspot.infer.tta import shift

LABELS = ("a", "b", "c", "d")
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
Y_PRED = np.array([0, 0, 1, 2, 1, 1, 0, 2, 2, 1])


def _probs(pred: np.ndarray, c: int = 4) -> np.ndarray:
    """0.4 on the predicted class, 0.2 on each other one."""
    p = np.full((len(pred), c), 0.2, dtype=np.float32)
    p[np.arange(len(pred)), pred] = 0.4
    return p


def test_metrics_match_a_hand_computed_confusion_matrix() -> None:
    cm = confusion_matrix(Y_TRUE, Y_PRED, 4)
    assert cm.tolist() == [[2, 1, 1, 0], [1, 2, 0, 0], [0, 1, 2, 0], [0, 0, 0, 0]]
    res = result_from_probs(_probs(Y_PRED), Y_TRUE, LABELS)
    assert np.array_equal(res.confusion, cm)
    assert res.accuracy == pytest.approx(6 / 10)
    # a: P 2/3, R 2/4; b: P 2/4, R 2/3; c: P 2/3, R 2/3; d never occurs
    expected = {"a": (2 / 3, 1 / 2, 4 / 7, 4), "b": (1 / 2, 2 / 3, 4 / 7, 3),
                "c": (2 / 3, 2 / 3, 2 / 3, 3), "d": (0.0, 0.0, 0.0, 0)}
    for c in res.per_class:
        p, r, f1, support = expected[c.name]
        assert (c.precision, c.recall, c.f1) == pytest.approx((p, r, f1), abs=1e-12)
        assert c.support == support
    # macro averages over the classes that occur ("d" neither occurs nor is predicted)
    assert res.macro_precision == pytest.approx(11 / 18)
    assert res.macro_recall == pytest.approx(11 / 18)
    assert res.macro_f1 == pytest.approx(38 / 63)
    # cross-entropy: 6 right answers at p=0.4, 4 wrong ones with p(true)=0.2
    assert res.loss == pytest.approx(-(6 * math.log(0.4) + 4 * math.log(0.2)) / 10, rel=1e-6)
    d = json.loads(json.dumps(res.to_dict()))
    assert d["confusion"] == cm.tolist() and d["per_class"]["b"]["recall"] == pytest.approx(2 / 3)


def test_a_predicted_class_without_support_counts_in_the_macro_average() -> None:
    res = result_from_probs(_probs(np.array([3, 0])), np.array([0, 0]), LABELS)
    d = {c.name: c for c in res.per_class}
    assert (d["a"].precision, d["a"].recall) == (1.0, 0.5)
    assert (d["d"].precision, d["d"].recall, d["d"].f1, d["d"].predicted) == (0.0, 0.0, 0.0, 1)
    assert res.macro_f1 == pytest.approx((2 / 3 + 0.0) / 2)


def test_tables() -> None:
    res = result_from_probs(_probs(Y_PRED), Y_TRUE, LABELS)
    lines = format_confusion(res).splitlines()
    assert lines[0].split()[3:7] == ["a", "b", "c", "d"]  # after "true \ pred"
    assert lines[1].split() == ["a", "2", "1", "1", "0", "4", "0.500"]
    assert lines[4].split() == ["d", "0", "0", "0", "0", "0", "-"]
    per = format_per_class(res).splitlines()
    assert per[-1].split() == ["macro", "avg", "0.6111", "0.6111", "0.6032", "10"]
    table = format_comparison([res, res], ["m1", "m2"]).splitlines()
    assert table[0].split() == ["m1", "m2"] and table[1].split() == ["accuracy", "0.6000",
                                                                      "0.6000"]


class ToyClassifier:
    """A numpy classifier: class k scores the energy of the k-th third of the clip, so
    shifting a clip changes its probabilities. Counts its calls."""

    labels = ("first", "middle", "last")
    sample_rate = 16000
    clip_samples = 16000

    def __init__(self, sharpness: float = 20.0, source: str = "toy") -> None:
        self.sharpness = sharpness
        self.source = source
        self.model_name = source
        self.calls = 0

    def predict_proba(self, waves: np.ndarray) -> np.ndarray:
        assert waves.dtype == np.float32 and waves.shape[1] == 16000
        self.calls += 1
        e = np.stack([np.sqrt((w ** 2).mean(axis=1)) for w in np.array_split(waves, 3, 1)], 1)
        z = np.exp(self.sharpness * (e - e.max(axis=1, keepdims=True)))
        return (z / z.sum(axis=1, keepdims=True)).astype(np.float32)


def _toy_clips(n: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=n)
    waves = (rng.standard_normal((n, 16000)) * 300).astype(np.int16)
    for i, k in enumerate(labels):  # a burst inside the third of the clip named by the label
        start = 5333 * k + int(rng.integers(200, 4000))
        waves[i, start:start + 1000] = (rng.standard_normal(1000) * 8000).astype(np.int16)
    return waves, labels


def test_tta_averages_the_variants() -> None:
    waves, labels = _toy_clips(10)
    clf = ToyClassifier()
    res = evaluate_classifier(clf, waves, labels, tta=True, batch_size=4)
    k = 1 + len(TTA_SHIFTS_MS) + len(TTA_GAINS_DB)
    assert clf.calls == 3 * k  # batches of 4, 4, 2; each seen as k copies
    assert res.probs.shape == res.tta.probs.shape == (10, 3)
    assert res.tta.confusion.sum() == 10 and res.tta.labels == clf.labels
    x = waves.astype(np.float32) / 32768
    plain = ToyClassifier().predict_proba(x)
    manual = np.mean([ToyClassifier().predict_proba(v) for v in tta_variants(x, 16000)], axis=0)
    np.testing.assert_allclose(res.probs, plain, atol=1e-6)
    np.testing.assert_allclose(res.tta.probs, manual, atol=1e-6)
    assert not np.allclose(res.tta.probs, res.probs)  # the shifted copies do change things
    assert res.accuracy == 1.0  # the bursts are easy
    assert "tta" in res.to_dict() and res.to_dict()["tta"]["count"] == 10


def test_tta_variants() -> None:
    x = np.arange(1, 11, dtype=np.float32)[None, :]
    assert shift(x, 2)[0].tolist() == [0, 0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert shift(x, -2)[0].tolist() == [3, 4, 5, 6, 7, 8, 9, 10, 0, 0]
    x = x / 10
    variants = list(tta_variants(x, 1000, shifts_ms=(-1.0, 1.0), gains_db=(6.0,)))
    assert len(variants) == 4 and variants[0] is x
    assert variants[1][0, 0] == x[0, 1] and variants[2][0, 1] == x[0, 0]
    assert variants[3].max() == 1.0  # the louder copy is clipped to [-1, 1]
    assert variants[3][0, 0] == pytest.approx(0.1 * 10 ** (6 / 20))


def test_ensemble_averages_probabilities_and_refuses_other_labels() -> None:
    waves, labels = _toy_clips(8, seed=1)
    a = evaluate_classifier(ToyClassifier(20.0, "a"), waves, labels, tta=True)
    b = evaluate_classifier(ToyClassifier(2.0, "b"), waves, labels, tta=True)
    ens = evaluate_ensemble([a, b])
    np.testing.assert_allclose(ens.probs, (a.probs + b.probs) / 2, atol=1e-6)
    np.testing.assert_allclose(ens.tta.probs, (a.tta.probs + b.tta.probs) / 2, atol=1e-6)
    assert ens.confusion.shape == (3, 3) and ens.count == 8
    other = ToyClassifier()
    other.labels = ("x", "y", "z")
    c = evaluate_classifier(other, waves, labels)
    with pytest.raises(KwspotError, match="cannot ensemble"):
        evaluate_ensemble([a, c])
    with pytest.raises(KwspotError, match="differ from the data"):
        evaluate_classifier(ToyClassifier(), waves, labels, label_names=("x", "y", "z"))


def test_plot_confusion_writes_a_png(tmp_path: Path) -> None:
    from matplotlib.image import imread

    res = result_from_probs(_probs(Y_PRED), Y_TRUE, LABELS, info={"model": "toy"})
    path = plot_confusion(res, tmp_path / "sub" / "cm.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = imread(path)
    assert img.shape[0] > 300 and img.shape[1] > 300


def test_evaluate_modules_do_not_import_torch() -> None:
    code = ("import sys, kwspot.evaluate, kwspot.infer.predict, kwspot.report, kwspot.plots, "
            "kwspot.cli.evaluate, kwspot.cli.predict, kwspot.cli.report; "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- the command on trained checkpoints ----------------------------------------------------

@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A vggnet1 trained for a few seconds on the tone dataset (3 words)."""
    from kwspot.config import TrainConfig
    from kwspot.train import train

    tmp = tmp_path_factory.mktemp("evaluate")
    data = make_tone_dataset(tmp / "tones", speakers=12)
    cfg = TrainConfig.resolve(dict(
        data=str(data), words=("yes", "no", "up"), model="vggnet1", iters=20, batch_size=16,
        lr=0.05, log_every=10, val_pct=25, test_pct=25, out=str(tmp / "run"), device="cpu",
        cache_dir=str(tmp / "cache")))
    train(cfg)
    return tmp / "run"


def test_evaluate_command_on_a_checkpoint(run_dir: Path, tmp_path: Path, capsys) -> None:
    from kwspot.checkpoint import load_checkpoint

    js = tmp_path / "r.json"
    rc = main(["evaluate", "--checkpoint", str(run_dir / "best.pt"), "--split", "validation",
               "--json", str(js), "--batch-size", "7"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "confusion matrix (validation; rows true, columns predicted)" in out
    assert "macro avg" in out and str(run_dir / "confusion_validation.png") in out
    assert (run_dir / "confusion_validation.png").read_bytes()[:4] == b"\x89PNG"
    doc = json.loads(js.read_text())
    m = doc["models"][0]
    ckpt = load_checkpoint(run_dir / "best.pt")
    # the data settings came from the checkpoint: same validation split and figures as training
    assert m["accuracy"] == pytest.approx(ckpt.best_acc, abs=1e-9)
    assert m["loss"] == pytest.approx(ckpt.row["valid_loss"], rel=1e-4)
    assert m["labels"] == ["yes", "no", "up", "silence", "unknown"]
    assert sum(map(sum, m["confusion"])) == doc["clips"] and m["params"] > 0


def test_evaluate_command_compares_and_ensembles(run_dir: Path, tmp_path: Path,
                                                 capsys) -> None:
    js = tmp_path / "r.json"
    rc = main(["evaluate", "--checkpoint", str(run_dir / "best.pt"), "--checkpoint",
               str(run_dir / "last.pt"), "--ensemble", "--tta", "--json", str(js)])
    out = capsys.readouterr().out
    assert rc == 0
    header = [ln for ln in out.splitlines() if "run/best.pt" in ln][0].split()
    assert header == ["run/best.pt", "run/last.pt", "ensemble"]
    assert [ln for ln in out.splitlines() if ln.startswith("TTA accuracy")]
    doc = json.loads(js.read_text())
    assert len(doc["models"]) == 2 and "tta" in doc["ensemble"]
    assert doc["ensemble"]["count"] == doc["clips"]
    for name in ("confusion_testing_best.png", "confusion_testing_last.png",
                 "confusion_testing_ensemble.png"):
        assert (run_dir / name).is_file()


def test_evaluate_command_refuses_models_with_other_labels(run_dir: Path, tmp_path: Path,
                                                           capsys) -> None:
    from kwspot.checkpoint import Checkpoint

    ckpt = Checkpoint.load(run_dir / "last.pt")
    ckpt.labels = ["yes", "no", "down", "silence", "unknown"]
    ckpt.save(tmp_path / "other.pt")
    rc = main(["evaluate", "--checkpoint", str(run_dir / "best.pt"), "--checkpoint",
               str(tmp_path / "other.pt"), "--ensemble"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "must share the label list" in err


# --- a test folder is scored whole ---------------------------------------------------------

class ConstantClassifier:
    """Says ``yes`` for every clip; ``meta`` records the data it was 'trained' on, if any."""

    sample_rate = 16000
    clip_samples = 16000
    source = model_name = "constant"

    def __init__(self, trained_on: str | None = None) -> None:
        from kwspot.data.labels import LabelSet

        self.labels = LabelSet().names
        self.meta = {"config": {"data": trained_on}} if trained_on else None  # as ONNX has

    def predict_proba(self, waves: np.ndarray) -> np.ndarray:
        p = np.zeros((len(waves), len(self.labels)), dtype=np.float32)
        p[:, 0] = 1.0
        return p


def make_prelabeled_folder(root: Path, per_class: int = 2) -> Path:
    """The official test set's layout: 10 word folders, ``_unknown_`` (``WORD_SPEAKER_nohash_N
    .wav.wav``) and ``_silence_``; ``per_class`` clips each, every clip another speaker."""
    from conftest import write_wav

    from kwspot.data.labels import DEFAULT_WORDS

    rng = np.random.default_rng(1)
    for i, folder in enumerate([*DEFAULT_WORDS, "_unknown_", "_silence_"]):
        for k in range(per_class):
            spk = f"{i:04x}{k:04x}"
            name = {"_unknown_": f"bed_{spk}_nohash_0.wav.wav",
                    "_silence_": f"{i * per_class + k:04d}.wav"}.get(folder, f"{spk}_nohash_0.wav")
            write_wav(root / folder / name, (rng.standard_normal(16000) * 300).astype(np.int16))
    return root


@pytest.fixture
def constant(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every model loads as a :class:`ConstantClassifier`; map a model path to a folder in the
    returned dict to say it was trained on that folder."""
    from kwspot.infer import backend

    trained_on: dict[str, str] = {}
    monkeypatch.setattr(backend, "load_classifier",
                        lambda path, **kw: ConstantClassifier(trained_on.get(str(path))))
    return trained_on


def test_evaluate_scores_a_prelabeled_folder_whole(tmp_path: Path, constant, capsys) -> None:
    folder = make_prelabeled_folder(tmp_path / "test_set")
    js = tmp_path / "r.json"
    rc = main(["evaluate", "--checkpoint", "m.onnx", "--data", str(folder), "--json", str(js)])
    out = capsys.readouterr().out
    assert rc == 0
    assert f"24 clips scored: all of {folder}, 24 of the 24 audio files found" in out
    doc = json.loads(js.read_text())
    assert doc["subset"] == "all" and doc["clips"] == doc["files_found"] == 24
    assert doc["models"][0]["accuracy"] == pytest.approx(2 / 24)


def test_evaluate_all_of_a_folder_split_by_percentages(tmp_path: Path, constant, capsys) -> None:
    folder = make_prelabeled_folder(tmp_path / "test_set")
    rc = main(["evaluate", "--checkpoint", "m.onnx", "--data", str(folder), "--split", "testing",
               "--val-pct", "0", "--test-pct", "100"])
    assert rc == 0
    assert "24 clips scored: the testing split" in capsys.readouterr().out


def test_evaluate_the_models_own_data_defaults_to_its_testing_split(tmp_path: Path, constant,
                                                                    capsys) -> None:
    folder = make_prelabeled_folder(tmp_path / "data", per_class=6)
    constant["own.pt"] = str(folder)
    rc = main(["evaluate", "--checkpoint", "own.pt", "--data", str(folder)])
    out = capsys.readouterr().out
    assert rc == 0
    scored = int(out.split(" clips scored: the testing split")[0].split()[-1])
    assert 0 < scored < 72 and "of the 72 audio files found" in out


def test_evaluate_the_real_test_folder_reports_every_clip(shared_data: Path, constant,
                                                          tmp_path: Path, capsys) -> None:
    folder = shared_data / "sc_v2_test_part"
    rc = main(["evaluate", "--checkpoint", "m.onnx", "--data", str(folder),
               "--plot", str(tmp_path / "c.png")])
    out = capsys.readouterr().out
    assert rc == 0
    assert f"2,913 clips scored: all of {folder}, 2,913 of the 2,913 audio files found" in out
