"""A long test recording with known word times, for measuring streaming detection.

Real clips of one split of a dataset (by default ``testing``: with the same data options as a
training run, speakers that run never heard) are placed one after another with random gaps
over background noise; command words are the targets, unknown words and silence clips are
distractors. Each clip is trimmed to its voiced part (or kept whole). The result is a 16 kHz
mono int16 WAV and a ground-truth CSV ``start_s,end_s,label,kind,source``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kwspot.data.audio import SAMPLE_RATE, is_audio_file, read_audio
from kwspot.data.labels import DEFAULT_WORDS, SILENCE, UNKNOWN
from kwspot.errors import KwspotError


@dataclass(frozen=True)
class RecordingConfig:
    """How to build the recording (times in seconds)."""

    root: str  # dataset folder the clips come from
    noise_dir: str  # background noise recordings (e.g. the dataset's _background_noise_)
    split: str = "testing"  # which split's clips to use
    words: tuple[str, ...] = DEFAULT_WORDS  # command words (as the model was trained)
    val_pct: float = 10.0  # the dataset split options: use the training run's
    test_pct: float = 10.0
    split_salt: str = ""
    minutes: float = 10.0  # length of the recording
    gap: tuple[float, float] = (1.0, 3.0)  # pause between two placed clips (uniform)
    distractor_share: float = 0.3  # share of placed clips that are unknown words or silence
    noise_volume: float = 0.05  # background noise gain (noise files are near full scale)
    trim: bool = True  # place only the voiced part of each clip
    seed: int = 0


@dataclass(frozen=True)
class TruthEvent:
    start_s: float
    end_s: float
    label: str  # a command word, "unknown" or "silence"
    kind: str  # "command" | "distractor"
    source: str  # the clip it came from


def voiced_span(x: np.ndarray, sr: int = SAMPLE_RATE, floor_db: float = -30.0,
                margin_s: float = 0.05) -> tuple[int, int]:
    """``(start, end)`` sample range of the voiced part: 10-ms frames within ``floor_db`` of
    the loudest frame, widened by ``margin_s``; the whole clip if it is silent."""
    frame = sr // 100
    n = len(x) // frame
    if n == 0:
        return 0, len(x)
    energy = np.square(x[:n * frame].astype(np.float64)).reshape(n, frame).mean(axis=1)
    if energy.max() <= 0:
        return 0, len(x)
    loud = np.flatnonzero(10 * np.log10(energy / energy.max() + 1e-12) >= floor_db)
    margin = int(margin_s * sr)
    return max(0, loud[0] * frame - margin), min(len(x), (loud[-1] + 1) * frame + margin)


def build_recording(cfg: RecordingConfig, wav_out: Path | str, truth_out: Path | str,
                    *, verbose: bool = False) -> list[TruthEvent]:
    """Write the recording and its ground truth; returns the placed events."""
    import soundfile as sf

    from kwspot.data.dataset import DataConfig, load_dataset

    if cfg.minutes <= 0:
        raise KwspotError(f"recording length must be positive, got {cfg.minutes} minutes")
    data = load_dataset(DataConfig(root=cfg.root, words=tuple(cfg.words), val_pct=cfg.val_pct,
                                   test_pct=cfg.test_pct, split_salt=cfg.split_salt),
                        verbose=verbose)
    if cfg.split not in data.splits:
        raise KwspotError(f"unknown split {cfg.split!r} (training, validation, testing)")
    split = data.splits[cfg.split]
    names = data.labels.names
    n_words = len(data.labels.words)
    rng = np.random.default_rng(cfg.seed)
    commands = rng.permutation(np.flatnonzero(split.labels < n_words))
    distractors = rng.permutation(np.flatnonzero(split.labels >= n_words))
    if len(commands) == 0:
        raise KwspotError(f"{cfg.root}: the {cfg.split} split has no command clips")

    total = int(cfg.minutes * 60 * SAMPLE_RATE)
    audio = _background(cfg.noise_dir, total, cfg.noise_volume, rng)
    events: list[TruthEvent] = []
    pos = int(rng.uniform(*cfg.gap) * SAMPLE_RATE)
    ci = di = 0
    while True:
        use_distractor = len(distractors) > 0 and rng.random() < cfg.distractor_share
        if use_distractor:
            idx = int(distractors[di % len(distractors)])
            di += 1
        else:
            idx = int(commands[ci % len(commands)])
            ci += 1
        clip = split.waves[idx].astype(np.float32) / 32768.0
        a, b = voiced_span(clip) if cfg.trim else (0, len(clip))
        piece = clip[a:b]
        if pos + len(piece) > total:
            break
        audio[pos:pos + len(piece)] += piece
        label = names[int(split.labels[idx])]
        events.append(TruthEvent(pos / SAMPLE_RATE, (pos + len(piece)) / SAMPLE_RATE, label,
                                 "distractor" if label in (SILENCE, UNKNOWN) else "command",
                                 split.sources[idx]))
        pos += len(piece) + int(rng.uniform(*cfg.gap) * SAMPLE_RATE)
    wav_out, truth_out = Path(wav_out), Path(truth_out)
    wav_out.parent.mkdir(parents=True, exist_ok=True)
    pcm = np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)
    sf.write(str(wav_out), pcm, SAMPLE_RATE, subtype="PCM_16")
    write_truth(truth_out, events)
    return events


def _background(noise_dir: str, total: int, volume: float,
                rng: np.random.Generator) -> np.ndarray:
    """``total`` samples of noise: random 5–15 s crops of the noise files at random levels up
    to ``volume``, joined with 50-ms cross-fades."""
    folder = Path(noise_dir)
    files = sorted(p for p in folder.iterdir() if is_audio_file(p)) if folder.is_dir() else []
    if not files:
        raise KwspotError(f"{folder}: no background noise .wav files")
    noise = [read_audio(p, resample=True).astype(np.float32) / 32768.0 for p in files]
    out = np.zeros(total, dtype=np.float32)
    fade = SAMPLE_RATE // 20
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    pos = 0
    while pos < total:
        src = noise[int(rng.integers(len(noise)))]
        n = min(len(src), int(rng.uniform(5, 15) * SAMPLE_RATE), total - pos + fade)
        start = int(rng.integers(0, len(src) - n + 1))
        seg = src[start:start + n] * rng.uniform(0.3, 1.0) * volume
        if n > 2 * fade:
            seg[:fade] *= ramp
            seg[-fade:] *= ramp[::-1]
        end = min(total, pos + n)
        out[pos:end] += seg[:end - pos]
        pos = end - fade if end < total else end
    return out


def write_truth(path: Path | str, events: list[TruthEvent]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["start_s", "end_s", "label", "kind", "source"])
        for e in events:
            w.writerow([f"{e.start_s:.3f}", f"{e.end_s:.3f}", e.label, e.kind, e.source])


def read_truth(path: Path | str) -> list[TruthEvent]:
    """The events of a ground-truth CSV written by :func:`build_recording`."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return [TruthEvent(float(r["start_s"]), float(r["end_s"]), r["label"], r["kind"],
                           r.get("source", "")) for r in rows]
    except (OSError, KeyError, ValueError) as exc:
        raise KwspotError(f"{path}: not a ground-truth CSV ({exc})") from None
