"""Streaming detector, resampler, long test recording, scoring, and the detect/listen commands."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from scipy.signal import resample_poly

from kwspot.errors import KwspotError
from kwspot.evaluate.longaudio import (
    RecordingConfig,
    TruthEvent,
    build_recording,
    read_truth,
    voiced_span,
)
from kwspot.evaluate.scoring import score_detections
from kwspot.infer.detector import DetectorConfig, StreamingDetector, detect_array
from kwspot.infer.filedetect import detect_file
from kwspot.infer.resample import StreamResampler
from kwspot.infer.thresholds import parse_thresholds

SR = 1000  # the fake model's sample rate: 1-s windows of 1,000 samples keep tests fast
YES, NO, OTHER = 0.5, -0.5, 0.25  # sample values the fake model recognizes


class PatternModel:
    """A fake classifier: P(yes) = share of the window's samples equal to 0.5, P(no) = share
    equal to -0.5, P(unknown) = share equal to 0.25, silence the rest. Rows are independent."""

    labels = ("yes", "no", "silence", "unknown")
    sample_rate = SR
    clip_samples = SR
    source = "pattern"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict_proba(self, waves: np.ndarray) -> np.ndarray:
        self.calls.append(len(waves))
        yes = np.isclose(waves, YES).mean(axis=1)
        no = np.isclose(waves, NO).mean(axis=1)
        unk = np.isclose(waves, OTHER).mean(axis=1)
        return np.stack([yes, no, 1 - yes - no - unk, unk], axis=1).astype(np.float32)


def signal(seconds: float, bursts: list[tuple[float, float, float]]) -> np.ndarray:
    """Zeros with ``(start_s, end_s, value)`` bursts."""
    x = np.zeros(int(seconds * SR), dtype=np.float32)
    for a, b, v in bursts:
        x[round(a * SR):round(b * SR)] = v
    return x


def run(x: np.ndarray, **cfg: object) -> list[tuple[float, str, float, float]]:
    dets = detect_array(PatternModel(), x, DetectorConfig(**cfg))
    return [(round(d.time_s, 6), d.word, round(d.confidence, 6), round(d.decided_s, 6))
            for d in dets]


def test_exact_detection_time_without_smoothing() -> None:
    # "yes" from 2.0 to 2.8 s: the window ending at e holds e - 2.0 s of it, so P(yes)
    # reaches 0.5 at e = 2.5 s; the reported time is the window centre, 2.0 s.
    x = signal(5, [(2.0, 2.8, YES)])
    assert run(x, threshold=0.49, smooth_ms=20) == [(2.0, "yes", 0.5, 2.5)]


def test_smoothing_delays_decision_not_time() -> None:
    # Averaging 5 windows (100 ms) lowers the score by 0.04 on the rising edge: decided at
    # 2.54 s; the time is the centre of the averaged windows, still 2.0 s.
    x = signal(5, [(2.0, 2.8, YES)])
    assert run(x, threshold=0.49, smooth_ms=100) == [(2.0, "yes", 0.5, 2.54)]


def test_threshold_per_word_and_word_filter() -> None:
    x = signal(8, [(1.0, 1.6, YES), (4.0, 4.6, NO)])  # both peak at 0.6
    assert [d[1] for d in run(x, threshold=0.5, smooth_ms=20)] == ["yes", "no"]
    assert [d[1] for d in run(x, threshold=0.5, thresholds={"yes": 0.7},
                              smooth_ms=20)] == ["no"]
    assert [d[1] for d in run(x, threshold=0.5, smooth_ms=20, words=("yes",))] == ["yes"]
    assert run(x, threshold=0.65, smooth_ms=20) == []


def test_refractory_period_and_rearm() -> None:
    # yes 2.0-2.8 decided at 2.5; no 3.2-4.0 crosses 0.49 at 3.7 (1.2 s later).
    x = signal(6, [(2.0, 2.8, YES), (3.2, 4.0, NO)])
    assert [(d[1], d[3]) for d in run(x, threshold=0.49, smooth_ms=20,
                                      refractory_ms=1000)] == [("yes", 2.5), ("no", 3.7)]
    # A 1.5-s refractory period holds "no" back until 4.0 s, when it is still above 0.49.
    assert [(d[1], d[3]) for d in run(x, threshold=0.49, smooth_ms=20,
                                      refractory_ms=1500)] == [("yes", 2.5), ("no", 4.0)]
    # A word held above threshold fires once, however short the refractory period.
    long_yes = signal(8, [(1.0, 6.0, YES)])
    assert len(run(long_yes, threshold=0.49, smooth_ms=20, refractory_ms=0)) == 1
    # ...and again after its score has dropped below threshold.
    two = signal(8, [(1.0, 1.8, YES), (4.0, 4.8, YES)])
    assert [d[3] for d in run(two, threshold=0.49, smooth_ms=20, refractory_ms=0)] == [1.5, 4.5]


def test_unknown_and_silence_are_never_reported() -> None:
    x = signal(4, [(1.0, 2.0, OTHER)])
    assert run(x, threshold=0.3, smooth_ms=20) == []


def test_word_at_the_very_end_is_found_by_flush() -> None:
    x = signal(3.0, [(2.5, 3.0, YES)])
    det = StreamingDetector(PatternModel(), DetectorConfig(threshold=0.49, smooth_ms=100))
    assert det.feed(x) == []
    assert [d.word for d in det.flush()] == ["yes"]


def test_chunk_size_does_not_change_detections() -> None:
    rng = np.random.default_rng(0)
    bursts = []
    t = 0.5
    while t < 28:
        d = rng.uniform(0.3, 0.9)
        bursts.append((t, t + d, [YES, NO, OTHER][rng.integers(3)]))
        t += d + rng.uniform(0.2, 1.5)
    x = signal(30, bursts)
    gaps = x == 0
    x[gaps] = rng.uniform(-0.2, 0.2, int(gaps.sum()))  # never one of the pattern values
    cfg = DetectorConfig(threshold=0.4, smooth_ms=60, refractory_ms=300, batch=7)
    results = []
    for size in (1, 333, len(x)):
        model = PatternModel()
        det = StreamingDetector(model, cfg)
        found = [d for i in range(0, len(x), size) for d in det.feed(x[i:i + size])]
        found += det.flush()
        results.append(found)
        assert max(model.calls) <= 7
    assert len(results[0]) >= 10
    assert results[0] == results[1] == results[2]
    # The whole signal at once is classified in full batches of 7 windows.
    assert det.windows == sum(model.calls)


def test_bad_settings() -> None:
    with pytest.raises(KwspotError, match="threshold"):
        DetectorConfig(threshold=1.5)
    with pytest.raises(KwspotError, match="not among"):
        StreamingDetector(PatternModel(), DetectorConfig(words=("maybe",)))
    with pytest.raises(KwspotError, match="not among"):
        StreamingDetector(PatternModel(), DetectorConfig(thresholds={"unknown": 0.5}))
    with pytest.raises(KwspotError, match="hop"):
        StreamingDetector(PatternModel(), DetectorConfig(hop_ms=2000))
    assert parse_thresholds("yes=0.9, no=0.7") == {"yes": 0.9, "no": 0.7}
    with pytest.raises(KwspotError, match="WORD=VALUE"):
        parse_thresholds("yes:0.9")


@pytest.mark.parametrize("rates", [(44100, 16000), (8000, 16000), (48000, 16000)])
def test_stream_resampler_equals_resample_poly(rates: tuple[int, int]) -> None:
    rin, rout = rates
    x = np.random.default_rng(1).standard_normal(rin + 321).astype(np.float32) * 0.1
    g = np.gcd(rin, rout)
    ref = resample_poly(x.astype(np.float64), rout // g, rin // g)
    r = StreamResampler(rin, rout)
    sizes = [1, 333, 4000, 7]
    parts, i, k = [], 0, 0
    while i < len(x):
        parts.append(r.feed(x[i:i + sizes[k % 4]]))
        i += sizes[k % 4]
        k += 1
    y = np.concatenate([*parts, r.flush()])
    assert len(y) == len(ref)
    np.testing.assert_allclose(y, ref, atol=1e-6)


# --- scoring --------------------------------------------------------------------------------

def test_scoring_hits_misses_false_alarms() -> None:
    truth = [TruthEvent(1.0, 1.6, "yes", "command", "a"),
             TruthEvent(4.0, 4.5, "no", "command", "b"),
             TruthEvent(7.0, 7.7, "yes", "command", "c"),
             TruthEvent(9.0, 9.6, "unknown", "distractor", "d")]
    dets = [(1.2, "yes"),   # hit
            (1.5, "yes"),   # the same event again: false alarm
            (4.3, "yes"),   # on a "no": false alarm and substitution; "no" is missed
            (9.3, "no"),    # on a distractor: false alarm
            (8.1, "yes"),   # 0.4 s after the end of the second yes: hit (tolerance 0.5)
            (12.0, "up")]   # a word not scored: ignored
    s = score_detections(dets, truth, ["yes", "no"], duration_s=1800.0, tolerance_s=0.5)
    assert (s.per_word["yes"].events, s.per_word["yes"].hits) == (2, 2)
    assert (s.per_word["yes"].false_alarms, s.per_word["yes"].substitutions) == (2, 1)
    assert (s.per_word["no"].events, s.per_word["no"].hits, s.per_word["no"].misses) == (1, 0, 1)
    assert s.per_word["no"].false_alarms == 1
    t = s.total
    assert (t.events, t.hits, t.misses, t.false_alarms) == (3, 2, 1, 3)
    assert s.fa_per_hour() == pytest.approx(6.0)
    assert "total" in s.table()
    tight = score_detections(dets, truth, ["yes", "no"], duration_s=1800.0, tolerance_s=0.2)
    assert tight.per_word["yes"].hits == 1


def test_voiced_span() -> None:
    x = np.zeros(16000, dtype=np.float32)
    x[6000:9000] = 0.3 * np.sin(np.arange(3000))
    a, b = voiced_span(x)
    assert 6000 - 800 - 160 <= a <= 6000 and 9000 <= b <= 9000 + 800 + 160
    assert voiced_span(np.zeros(16000)) == (0, 16000)


# --- real recordings and the commands ------------------------------------------------------

def _constant_checkpoint(path: Path, word_index: int = 0) -> Path:
    """A vggnet1 checkpoint whose last layer always says ``labels[word_index]``."""
    from kwspot.data.labels import LabelSet
    from kwspot.network import build_net, frontend_for

    torch.manual_seed(0)
    labels = LabelSet().names
    fe = frontend_for("vggnet1")
    net = build_net("vggnet1", len(labels), fe).eval()
    last = [m for m in net.classifier.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(-10.0)
        last.bias[word_index] = 10.0
    torch.save({"format": "kwspot-checkpoint", "version": 1, "model": "vggnet1",
                "model_kwargs": {}, "frontend": fe.to_dict(), "labels": list(labels),
                "state_dict": net.state_dict(), "iteration": 0, "best_acc": 0.0}, path)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from kwspot.infer.export import export_checkpoint

    d = tmp_path_factory.mktemp("models")
    pt = _constant_checkpoint(d / "yes.pt")
    return {"pt": pt, "onnx": export_checkpoint(pt, d / "yes.onnx").path}


def kwspot(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """Run the CLI in this process: (exit code, stdout, stderr)."""
    from kwspot.cli import main

    threads = torch.get_num_threads()  # --threads sets it process-wide: put it back
    try:
        code = main([str(a) for a in args])
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("kind", ["pt", "onnx"])
def test_detect_command(models: dict[str, Path], tmp_path: Path, kind: str,
                        capsys: pytest.CaptureFixture[str]) -> None:
    wav = tmp_path / "long.wav"
    sf.write(str(wav), np.zeros(16000 * 3, dtype=np.int16), 16000, subtype="PCM_16")
    code, out, err = kwspot(capsys, "detect", "--model", models[kind], wav,
                            "--csv", tmp_path / "d.csv")
    assert code == 0, err
    # The model always says "yes": one detection (it never falls below threshold to re-arm).
    assert out.split() == ["0.00", "yes", "1.000"]
    assert "real-time factor" in err
    rows = (tmp_path / "d.csv").read_text().splitlines()
    assert rows[0] == "time_s,word,confidence,decided_s" and rows[1].startswith("0.000,yes,1.0")


def test_detect_reads_blocks_and_resamples(models: dict[str, Path], tmp_path: Path) -> None:
    from kwspot.infer.backend import load_classifier

    wav = tmp_path / "stereo44k.wav"
    sf.write(str(wav), np.zeros((44100 * 2, 2), dtype=np.int16), 44100, subtype="PCM_16")
    notes: list[str] = []
    seen: list[float] = []
    run = detect_file(load_classifier(models["onnx"]), str(wav), block_s=0.3,
                      on_note=notes.append, on_progress=lambda done, total: seen.append(done))
    assert run.resampled_from == 44100 and "44100 Hz" in notes[0]
    assert run.audio_s == pytest.approx(2.0)
    assert len(seen) == 7  # 2 s read in 0.3-s blocks
    assert [d.word for d in run.detections] == ["yes"]


def test_detect_bad_inputs(models: dict[str, Path], tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros(0, dtype=np.int16), 16000, subtype="PCM_16")
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("not audio")
    truncated = tmp_path / "cut.onnx"
    truncated.write_bytes(models["onnx"].read_bytes()[:5000])
    wrong = tmp_path / "model.pt"
    wrong.write_text("hello")
    good = tmp_path / "ok.wav"
    sf.write(str(good), np.zeros(16000, dtype=np.int16), 16000, subtype="PCM_16")
    cases = [(models["onnx"], empty, "no audio samples"),
             (models["onnx"], not_audio, "cannot read audio"),
             (truncated, good, "not a valid ONNX model"),
             (wrong, good, "not a readable checkpoint"),
             (tmp_path / "missing.onnx", good, "no such model file")]
    for model, audio, message in cases:
        code, _, err = kwspot(capsys, "detect", "--model", model, audio)
        assert code == 2, (model, audio, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], err
    code, _, err = kwspot(capsys, "detect", "--model", models["onnx"], good, "--words", "maybe")
    assert code == 2 and "not among" in err
    # The library names the setting; the command line names its flag.
    code, _, err = kwspot(capsys, "detect", "--model", models["onnx"], good, "--hop-ms", "0")
    assert code == 2 and err == "kwspot: error: --hop-ms: must be positive, got 0.0\n"
    code, _, err = kwspot(capsys, "detect", "--model", models["onnx"], good, "--thresholds", "x")
    assert code == 2 and err.startswith("kwspot: error: --thresholds: 'x': expected WORD=VALUE")
    # Another sample rate is not an error: it is resampled, with a note on stderr.
    low = tmp_path / "8k.wav"
    sf.write(str(low), np.zeros(8000, dtype=np.int16), 8000, subtype="PCM_16")
    code, out, err = kwspot(capsys, "detect", "--model", models["onnx"], low)
    assert code == 0 and out.split() == ["0.00", "yes", "1.000"]
    assert "note: " in err and "8000 Hz audio resampled to the model's 16000 Hz" in err


def test_long_recording_truth_and_detection(shared_data: Path, models: dict[str, Path],
                                            tmp_path: Path) -> None:
    cfg = RecordingConfig(root=str(shared_data / "sc_v2_test_part"),
                          noise_dir=str(shared_data / "background_noise"), minutes=0.5)
    events = build_recording(cfg, tmp_path / "rec.wav", tmp_path / "rec.csv")
    assert read_truth(tmp_path / "rec.csv") == [
        TruthEvent(round(e.start_s, 3), round(e.end_s, 3), e.label, e.kind, e.source)
        for e in events]
    info = sf.info(str(tmp_path / "rec.wav"))
    assert (info.samplerate, info.frames) == (16000, 30 * 16000)
    assert len(events) >= 6
    assert all(b.start_s >= a.end_s for a, b in zip(events, events[1:], strict=False))
    assert all(0.1 <= e.end_s - e.start_s <= 1.0 for e in events)
    assert {e.kind for e in events} <= {"command", "distractor"}
    # Clips come from the held-out testing split only.
    from kwspot.data.dataset import DataConfig, load_dataset

    test_sources = set(load_dataset(DataConfig(root=cfg.root), verbose=False)
                       .splits["testing"].sources)
    assert {e.source for e in events} <= test_sources
    # The same build twice is identical.
    again = build_recording(cfg, tmp_path / "rec2.wav", tmp_path / "rec2.csv")
    assert again == events
    assert (tmp_path / "rec.wav").read_bytes() == (tmp_path / "rec2.wav").read_bytes()


# --- listen ---------------------------------------------------------------------------------

def test_listen_without_sounddevice(models: dict[str, Path], tmp_path: Path) -> None:
    block = tmp_path / "block"
    block.mkdir()
    (block / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'sounddevice':\n"
        "            raise ImportError('blocked for the test')\n"
        "sys.meta_path.insert(0, _Block())\n")
    import os

    env = {**os.environ, "PYTHONPATH": f"{block}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    r = subprocess.run([sys.executable, "-m", "kwspot", "listen", "--model", str(models["onnx"])],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "kwspot: error: sounddevice is not installed: pip install 'kwspot[listen]'"]


class _PortAudioError(Exception):
    pass


def _fake_sounddevice(chunks: list[np.ndarray] | None) -> types.ModuleType:
    """A stand-in for ``sounddevice``: no input device when ``chunks`` is None, else an input
    stream whose callback delivers ``chunks`` (from another thread, like PortAudio)."""
    import threading

    sd = types.ModuleType("sounddevice")
    sd.PortAudioError = _PortAudioError

    def query_devices(device=None, kind=None):
        if chunks is None:
            raise _PortAudioError("Error querying device -1")
        return {"name": "fake mic", "max_input_channels": 1, "default_samplerate": 16000.0}

    class InputStream:
        def __init__(self, *, callback, **kw):
            self.callback, self.active = callback, False

        def __enter__(self):
            self.active = True
            self.thread = threading.Thread(target=lambda: [
                self.callback(c[:, None], len(c), None, None) for c in chunks])
            self.thread.start()
            return self

        def __exit__(self, *exc):
            self.thread.join()
            self.active = False

    sd.query_devices = query_devices
    sd.check_input_settings = lambda **kw: None
    sd.InputStream = InputStream
    return sd


def test_listen_no_input_device(models: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    from kwspot.cli import main

    monkeypatch.setitem(sys.modules, "sounddevice", _fake_sounddevice(None))
    assert main(["listen", "--model", str(models["onnx"])]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no audio input" in err[0]


def test_listen_feeds_the_detector_from_the_callback(models: dict[str, Path],
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from kwspot.cli import main

    audio = np.zeros(16000 * 2, dtype=np.float32)
    chunks = [audio[i:i + 320] for i in range(0, len(audio), 320)]
    monkeypatch.setitem(sys.modules, "sounddevice", _fake_sounddevice(chunks))
    assert main(["listen", "--model", str(models["onnx"]), "--seconds", "2"]) == 0
    out = capsys.readouterr()
    assert out.out.split() == ["0.00", "yes", "1.000"]
    assert "listening on fake mic" in out.err
