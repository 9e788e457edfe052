"""Scoring for detection that stays on: posteriors once, DET sweeps, calibration, the operating
point in the model, and `kwspot score`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_stream import NO, SR, YES, PatternModel, kwspot, models, signal  # noqa: F401

from kwspot.errors import KwspotError
from kwspot.evaluate.calibrate import calibrate_thresholds, split_files
from kwspot.evaluate.det import NegativeScores, Timing, firing_rows, smooth
from kwspot.evaluate.posteriors import Posteriors, window_posteriors
from kwspot.evaluate.score import collect, plan, score, stored_model
from kwspot.infer.detector import DetectorConfig, StreamingDetector, detect_array
from kwspot.infer.operating_point import OperatingPoint


class Recorder(PatternModel):
    """The pattern model, keeping every posterior row it returns in order."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[np.ndarray] = []

    def predict_proba(self, waves: np.ndarray) -> np.ndarray:
        p = super().predict_proba(waves)
        self.rows.append(p)
        return p


def noisy_bursts(seed: int, seconds: float = 20.0) -> np.ndarray:
    """Random "yes"/"no" bursts of random lengths: scores rise and fall many times."""
    rng = np.random.default_rng(seed)
    bursts = []
    t = 0.5
    while t < seconds - 1:
        length = rng.uniform(0.1, 0.9)
        bursts.append((t, t + length, YES if rng.random() < 0.6 else NO))
        t += length + rng.uniform(0.05, 1.5)
    return signal(seconds, bursts)


def test_window_posteriors_are_the_detectors_windows() -> None:
    x = noisy_bursts(0, 6.0)
    rec = Recorder()
    det = StreamingDetector(rec, DetectorConfig(hop_ms=30))
    det.feed(x)
    det.flush()
    streamed = np.concatenate(rec.rows)
    stored = window_posteriors(PatternModel(), x, det.hop)
    n = min(len(streamed), len(stored))
    assert n >= len(x) // det.hop
    np.testing.assert_allclose(stored[:n], streamed[:n])


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("smooth_ms", [20.0, 200.0])
def test_replay_and_one_word_sweep_decide_as_the_detector(seed: int, smooth_ms: float) -> None:
    x = noisy_bursts(seed)
    cfg = DetectorConfig(hop_ms=20, smooth_ms=smooth_ms, threshold=0.3, refractory_ms=700,
                         words=("yes",))
    live = detect_array(PatternModel(), x, cfg)
    assert len(live) >= 3
    probs = window_posteriors(PatternModel(), x, 20)
    assert StreamingDetector(PatternModel(), cfg).replay(probs)[:len(live)] == live
    timing = Timing.of(SR, SR, 20, smooth_ms, 700)
    rows = firing_rows(smooth(probs[:, 0], timing.smooth), 0.3, timing.refractory)
    assert [round(timing.time_s(timing.hop * (int(r) + 1)), 9) for r in rows][:len(live)] == \
        [round(d.time_s, 9) for d in live]


def test_a_models_lookahead_times_detections_from_the_audio_heard() -> None:
    """Posteriors that heard ``lookahead`` samples past their window's end: the detections
    are the same, timed and decided that much later, and the sweep times them alike."""
    from kwspot.evaluate.operating import StoredModel

    probs = window_posteriors(PatternModel(), noisy_bursts(4), 20)
    labels = tuple(PatternModel().labels)
    cfg = DetectorConfig(hop_ms=20, smooth_ms=100, threshold=0.3, refractory_ms=700,
                         words=("yes",))
    plain = StreamingDetector(StoredModel(labels, SR, SR), cfg).replay(probs)
    ahead = StreamingDetector(StoredModel(labels, SR, SR, lookahead=SR // 5), cfg).replay(probs)
    assert len(plain) >= 3 and len(ahead) == len(plain)
    for p, a in zip(plain, ahead, strict=True):
        assert (a.word, a.confidence) == (p.word, p.confidence)
        assert a.decided_s == pytest.approx(p.decided_s + 0.2)
        assert a.time_s == pytest.approx(max(0.0, p.time_s + 0.2)) or p.time_s == 0.0
    timing = Timing.of(SR, SR, 20, 100, 700, lookahead=SR // 5)
    rows = firing_rows(smooth(probs[:, 0], timing.smooth), 0.3, timing.refractory)
    assert [round(timing.time_s(20 * (int(r) + 1)), 9) for r in rows][:len(ahead)] == \
        [round(d.time_s, 9) for d in ahead]


def test_smooth_averages_what_there_is_at_the_start() -> None:
    p = np.array([[1.0], [0.0], [0.5], [0.5]])
    np.testing.assert_allclose(smooth(p, 2)[:, 0], [1.0, 0.5, 0.25, 0.5])
    np.testing.assert_allclose(smooth(p, 1), p)


def test_calibration_meets_its_target_on_its_own_audio() -> None:
    timing = Timing.of(SR, SR, 20, 100, 1000)
    negs = [Posteriors(f"n{i}.wav", window_posteriors(PatternModel(), noisy_bursts(10 + i), 20),
                       20.0) for i in range(6)]
    neg = NegativeScores.build(negs, [0, 1], timing)
    assert neg.hours.tolist() == pytest.approx([120 / 3600] * 2)
    # 360 false alarms per hour over 2 words on 2 minutes: 6 allowed per word.
    th = calibrate_thresholds(("yes", "no"), neg, 360.0, timing.refractory, per_word=True)
    for j, w in enumerate(("yes", "no")):
        fa = neg.false_alarms(j, th[w], timing.refractory)
        assert fa <= 6
        # a lower threshold than the one chosen would break the budget (or it is the lowest peak)
        assert neg.false_alarms(j, th[w] - 0.02, timing.refractory) > 6 or th[w] < 0.1
    strict = calibrate_thresholds(("yes", "no"), neg, 1.0, timing.refractory, per_word=True)
    assert strict["yes"] == pytest.approx(neg.scores[:, 0].max() + 1e-6)
    assert neg.false_alarms(0, strict["yes"], timing.refractory) == 0


def test_one_threshold_for_all_words_spends_the_target_once() -> None:
    timing = Timing.of(SR, SR, 20, 100, 1000)
    negs = [Posteriors(f"n{i}.wav", window_posteriors(PatternModel(), noisy_bursts(10 + i), 20),
                       20.0) for i in range(6)]
    neg = NegativeScores.build(negs, [0, 1], timing)

    def rate(t: float) -> float:  # both words together, per hour
        return sum(neg.false_alarms(j, t, timing.refractory) for j in (0, 1)) / neg.hours[0]

    th = calibrate_thresholds(("yes", "no"), neg, 360.0, timing.refractory)
    assert th["yes"] == th["no"]
    assert rate(th["yes"]) <= 360.0
    assert rate(th["yes"] - 0.02) > 360.0 or th["yes"] < 0.52  # the lowest that keeps it
    # Below one false alarm allowed: just above the highest peak of any word.
    strict = calibrate_thresholds(("yes", "no"), neg, 1.0, timing.refractory)
    assert strict["yes"] == pytest.approx(neg.scores[:, :2].max() + 1e-6)
    assert rate(strict["yes"]) == 0
    # A word no audio counts for never fires, and its scores do not raise the others'.
    neg.hours[1] = 0.0
    alone = calibrate_thresholds(("yes", "no"), neg, 1.0, timing.refractory)
    assert alone == {"yes": pytest.approx(neg.scores[:, 0].max() + 1e-6), "no": 1.0}


def test_confirmed_scores_may_calibrate_below_the_plain_floor() -> None:
    """A model whose detections are confirmed phonetically may get a threshold down to
    CONFIRMED_FLOOR; an unconfirmed one never below FLOOR."""
    from kwspot.evaluate.calibrate import CONFIRMED_FLOOR, FLOOR
    from kwspot.evaluate.operating import StoredModel
    from kwspot.evaluate.score import Collected, Scorer

    probs = np.zeros((400, 3), np.float32)
    probs[:, 2] = 1.0
    probs[100:110] = [0.35, 0.0, 0.65]  # the loudest negative: "yes" at 0.35
    probs[300:310] = [0.1, 0.0, 0.9]
    negs = [Posteriors("n.wav", probs, 400 * 20 / SR)]
    audio = Collected(negatives=negs, negative_sources=["n.wav"], hop=20)
    config = DetectorConfig(hop_ms=20 * 1000 / SR, smooth_ms=0.0, refractory_ms=100.0)
    plain = StoredModel(("yes", "no", "unknown"), SR, SR, "m.pt")
    confirmed = StoredModel(("yes", "no", "unknown"), SR, SR, "m.pt",
                            confirm={"phrases": {"yes": "yes"}, "thresholds": {"yes": 1e-20}})
    assert CONFIRMED_FLOOR < 0.35 < FLOOR
    assert Scorer(audio, plain, config).calibrate(negs, 0.5).thresholds["yes"] == FLOOR
    op = Scorer(audio, confirmed, config).calibrate(negs, 0.5)
    assert op.thresholds["yes"] == pytest.approx(0.35 + 1e-6)
    probs[100:110] = [0.1, 0.0, 0.9]  # nothing above either floor
    assert Scorer(audio, confirmed, config).calibrate(negs, 0.5).thresholds["yes"] == \
        CONFIRMED_FLOOR


def test_split_keeps_speakers_together_and_is_stable() -> None:
    files = [Path(f"spk{i // 3}_{i % 3}.flac") for i in range(60)]
    cal, meas = split_files(files)
    assert cal and meas and len(cal) + len(meas) == 60
    assert not {f.name.split("_")[0] for f in cal} & {f.name.split("_")[0] for f in meas}
    assert split_files(list(reversed(files)))[0] == list(reversed(cal))


def write(path: Path, x: np.ndarray, sr: int = SR) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.round(x * 32767).astype(np.int16), sr, subtype="PCM_16")
    return path


def test_score_clips_and_negatives_with_calibration(tmp_path: Path) -> None:
    for i, length in enumerate([0.9, 0.8, 0.3]):  # the last "yes" is short: a low peak
        write(tmp_path / "pos" / "yes" / f"c{i}.wav", signal(2.0, [(0.5, 0.5 + length, YES)]))
    for i in range(8):
        x = signal(30.0, [(5.0 + 3 * k, 5.0 + 3 * k + 0.05 * (i + k + 1), YES)
                          for k in range(6)])
        write(tmp_path / "neg" / f"s{i}_a.wav", x)
    (tmp_path / "neg" / "s9_broken.wav").write_text("not audio")
    clf = PatternModel()
    files = plan([tmp_path / "pos"], [tmp_path / "neg"], ["yes", "no"])
    assert len(files) == 3 + 9
    audio = collect(clf, files, hop=20)
    assert [Path(s.path).name for s in audio.skipped] == ["s9_broken.wav"]
    cfg = DetectorConfig(smooth_ms=100, threshold=0.5)
    plain = score(audio, stored_model(clf), cfg)
    yes = plain.curves[0]
    assert yes.word == "yes" and yes.positives == 3 and plain.curves[-1].word == "all"
    assert yes.recall[0] == 1.0 and yes.false_alarms[0] > 0  # the lowest threshold hears all
    assert yes.false_alarms[-1] == 0
    assert plain.operating.per_word["yes"].hits == 2  # the short one stays under 0.5
    assert plain.operating.hours == pytest.approx({"yes": 8 * 30 / 3600, "no": 8 * 30 / 3600})
    cal = score(audio, stored_model(clf), cfg, calibrate_fa_per_hour=1.0)
    assert cal.calibration is not None and set(cal.calibrated_on).isdisjoint(cal.measured_on)
    assert len(cal.calibrated_on) + len(cal.measured_on) == 8
    assert cal.config.thresholds["yes"] == cal.calibration.thresholds["yes"] > 0.5
    assert cal.calibration.measured_fa_per_hour == 0.0


def test_operating_point_round_trip_and_detector_settings() -> None:
    op = OperatingPoint({"yes": 0.91}, smooth_ms=300, hop_ms=20, refractory_ms=800,
                        target_fa_per_hour=1.0, calibrated_on=["speech"], calibration_hours=0.4)
    back = OperatingPoint.from_dict(op.to_dict())
    assert back == op
    cfg = back.detector_config(words=("yes",))
    assert cfg.thresholds == {"yes": 0.91} and cfg.smooth_ms == 300 and cfg.words == ("yes",)
    assert "1 false alarms/h" in op.describe() and "yes=0.91" in op.describe()
    shared = OperatingPoint({"yes": 0.9, "no": 0.9}, smooth_ms=300, hop_ms=20,
                            refractory_ms=800)
    assert "every word 0.9" in shared.describe()
    with pytest.raises(KwspotError, match="operating point"):
        OperatingPoint.from_dict({"thresholds": {"yes": "high"}, "smooth_ms": 1, "hop_ms": 1,
                                  "refractory_ms": 1})


@pytest.mark.parametrize("kind", ["pt", "onnx"])
def test_score_command_calibrates_and_detect_uses_it(models: dict[str, Path],  # noqa: F811
                                                     tmp_path: Path, kind: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    for i in range(2):
        write(tmp_path / "pos" / "yes" / f"{i}.wav", rng.standard_normal(16000) * 0.1, 16000)
    for i in range(4):  # 8 kHz negatives, resampled
        write(tmp_path / "neg" / f"spk{i}_0.flac", rng.standard_normal(16000) * 0.1, 8000)
    (tmp_path / "neg" / "broken.flac").write_bytes(b"fLaC broken")
    out = tmp_path / f"calibrated.{kind}"
    code, stdout, err = kwspot(capsys, "score", "--model", models[kind], "--positives",
                              tmp_path / "pos", "--negatives", tmp_path / "neg",
                              "--calibrate", "1", "--save-model", out,
                              "--out", tmp_path / "report")
    assert code == 0, err
    assert "broken.flac" in err and "skipped" in err
    assert "calibrated for 1 false alarms/h" in stdout and "never used for calibration" in stdout
    assert (tmp_path / "report" / "det.png").stat().st_size > 1000
    assert (tmp_path / "report" / "det.json").is_file()
    # the stored operating point is what detect runs at, and it says so
    wav = write(tmp_path / "long.wav", np.zeros(32000), 16000)
    code, _, err = kwspot(capsys, "detect", "--model", out, wav)
    assert code == 0 and "operating point: the model's, calibrated" in err, err
    code, _, err = kwspot(capsys, "detect", "--model", out, wav, "--threshold", "0.9")
    assert code == 0 and "operating point: given, threshold 0.9" in err
    code, _, err = kwspot(capsys, "score", "--model", models[kind], "--negatives",
                          tmp_path / "neg", "--calibrate", "1", "--save-model", out)
    assert code == 2 and "already exists" in err


def test_exported_onnx_keeps_the_operating_point(models: dict[str, Path],  # noqa: F811
                                                 tmp_path: Path) -> None:
    from kwspot.infer.backend import load_classifier
    from kwspot.infer.calibrated_model import write_calibrated_model
    from kwspot.infer.export import export_checkpoint
    from kwspot.infer.operating_point import model_operating_point

    op = OperatingPoint({"yes": 0.97}, 500, 20, 1000, 1.0, ["x"], 0.5)
    pt = write_calibrated_model(models["pt"], op, tmp_path / "c.pt")
    onnx_path = export_checkpoint(pt, tmp_path / "c.onnx").path
    assert model_operating_point(load_classifier(onnx_path)) == op
    assert model_operating_point(load_classifier(models["onnx"])) is None
    with pytest.raises(KwspotError, match="must be a .onnx"):
        write_calibrated_model(models["onnx"], op, tmp_path / "x.pt")


def test_negative_windows_label_running_audio_unknown(tmp_path: Path) -> None:
    from conftest import make_tone_dataset

    from kwspot.data.dataset import DataConfig, load_dataset
    from kwspot.data.negatives import cut_windows, negative_windows

    x = np.arange(50, dtype=np.int16)
    assert cut_windows(x, 3, 10).tolist() == [list(range(3 + 10 * i, 13 + 10 * i))
                                              for i in range(4)]
    assert cut_windows(x[:7], 3, 10).shape == (1, 10)
    speech = tmp_path / "speech"
    write(speech / "a.flac", np.random.default_rng(0).standard_normal(8000 * 5) * 0.1, 8000)
    write(speech / "b.wav", np.zeros(16000 * 2 + 5), 16000)
    (speech / "c.wav").write_text("broken")
    neg = negative_windows([str(speech)])
    assert neg.waves.shape[1] == 16000 and 5 <= len(neg.waves) <= 7
    assert len(neg.skipped) == 1 and "c.wav" in neg.skipped[0]
    root = make_tone_dataset(tmp_path / "data", speakers=6, per_speaker=1)
    plain = load_dataset(DataConfig(root=str(root), words=("yes", "no", "up")), verbose=False)
    more = load_dataset(DataConfig(root=str(root), words=("yes", "no", "up"),
                                   negatives=(str(speech),)), verbose=False)
    tr, tr2 = plain.splits["training"], more.splits["training"]
    added = len(tr2) - len(tr)
    assert added == len(neg.waves)
    assert (tr2.labels[len(tr):] == plain.labels.unknown_index).all()
    assert len(more.splits["testing"]) == len(plain.splits["testing"])
    with pytest.raises(KwspotError, match="no such file"):
        negative_windows([str(tmp_path / "nowhere")])


def test_train_setting_reaches_the_data() -> None:
    from kwspot.config import TrainConfig

    cfg = TrainConfig.resolve({"data": "x", "negatives": ["speech", "noise"]})
    assert cfg.data_config().negatives == ("speech", "noise")


def test_maybe_contains_pooling_and_mining(tmp_path: Path) -> None:
    from kwspot.evaluate.det import pool_curves
    from kwspot.evaluate.operating import pool_results
    from kwspot.evaluate.score import Scorer

    write(tmp_path / "pos" / "yes" / "c.wav", signal(2.0, [(0.5, 1.3, YES)]))
    for i in range(4):
        write(tmp_path / "phone" / f"p{i}_a.wav", signal(20.0, [(5.0, 5.6, YES)]))
        write(tmp_path / "orders" / f"o{i}_a.wav", signal(20.0, [(5.0, 5.6, NO)]))
    clf = PatternModel()
    files = plan([tmp_path / "pos"], [tmp_path / "phone", tmp_path / "orders"], ["yes", "no"],
                 {str(tmp_path / "orders"): ["no"]})
    audio = collect(clf, files, hop=20)
    scorer = Scorer(audio, stored_model(clf), DetectorConfig(smooth_ms=100, threshold=0.5))
    curves, res = scorer.measure(audio.negatives)
    # "no" in the orders folder is not counted, and only the phone folder's hours count for it
    assert res.per_word["no"].false_alarms == 0 and res.per_word["yes"].false_alarms == 4
    assert res.hours["no"] == pytest.approx(80 / 3600) and res.hours["yes"] == pytest.approx(
        160 / 3600)
    assert curves[1].hours == pytest.approx(80 / 3600) and curves[1].false_alarms.max() == 0
    both = pool_results([res, res])
    assert both.fa_per_hour("yes") == pytest.approx(res.fa_per_hour("yes"))
    assert both.per_word["yes"].positives == 2 * res.per_word["yes"].positives
    pooled = pool_curves([curves, curves])
    np.testing.assert_allclose(pooled[-1].fa_per_hour, curves[-1].fa_per_hour)
    assert pooled[0].positives == 2 * curves[0].positives
    mined = scorer.mine(audio.negatives, 0.5, tmp_path / "hard")
    assert len(mined) == 4  # the "yes" of each phone file; "no" is not counted in orders
    x, sr = sf.read(str(mined[0]))
    assert sr == SR and len(x) == SR and np.isclose(x, YES, atol=1e-3).sum() >= 0.5 * SR
    with pytest.raises(KwspotError, match="not scored words"):
        plan([], [tmp_path / "phone"], ["yes"], {str(tmp_path / "phone"): ["maybe"]})


def test_embedding_model_posteriors_come_from_its_stream_scorer(tmp_path: Path) -> None:
    """An embedding model classifies every 80 ms from embeddings computed once: the stored
    posteriors are those windows, and replaying them decides as `detect` does."""
    pytest.importorskip("pyopen_wakeword", reason="pyopen-wakeword is not installed")
    from conftest import embedding_checkpoint

    from kwspot.evaluate.posteriors import file_posteriors, stream_hop
    from kwspot.infer.backend import load_classifier
    from kwspot.infer.filedetect import detect_file

    clf = load_classifier(embedding_checkpoint(tmp_path / "emb.pt"), threads=1)
    assert stream_hop(clf, 320) == 1280
    wav = write(tmp_path / "a.wav", np.random.default_rng(0).standard_normal(16000 * 3) * 0.1,
                16000)
    post = file_posteriors(clf, wav, 1280)
    assert post.ends is not None and (np.diff(post.ends) == 1280).all()
    config = DetectorConfig(hop_ms=80, smooth_ms=160, threshold=0.09, refractory_ms=300)
    live = detect_file(clf, str(wav), config).detections
    replayed = StreamingDetector(clf, config).replay(post.probs, post.ends)
    assert len(live) >= 1
    assert [(d.word, round(d.time_s, 6)) for d in replayed[:len(live)]] == \
        [(d.word, round(d.time_s, 6)) for d in live]
    # Stored, the posteriors keep the scorer's look-ahead: they are timed as `detect` times them.
    stored = stored_model(clf)
    assert stored.lookahead == clf.stream_scorer().lag > 0
    again = StreamingDetector(stored, config).replay(post.probs, post.ends)
    assert [(d.word, d.time_s, d.decided_s) for d in again] == \
        [(d.word, d.time_s, d.decided_s) for d in replayed]
    # decided once the look-ahead has been heard
    assert {round(d.decided_s * 16000) - stored.lookahead for d in again} <= set(post.ends)
