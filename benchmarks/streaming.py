"""Streaming detection on a long recording: accuracy and speed, PyTorch vs onnxruntime.

Takes a checkpoint (or trains a small one), exports it to ONNX (float and int8), builds a long
recording from the held-out testing split of the checkpoint's own data split (so no clip's
speaker was heard in training) over background noise, runs the streaming detector with each
backend, and prints hits / misses / false alarms per hour, the real-time factor, and the
latency of one 1-s clip at batch 1 (median of many runs).

    python benchmarks/streaming.py --checkpoint runs/vggnet1 --minutes 10
    python benchmarks/streaming.py --checkpoint runs/vggnet1 --tune   # pick threshold/smoothing
    python benchmarks/streaming.py --quick                             # CI: < 60 s

``--tune`` builds a second recording from the validation split, classifies it once, and
replays the posteriors through every threshold × smoothing setting; the setting with the most
(hits - false alarms) there is then used on the testing recording.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("KWSPOT_TEST_DATA", REPO.parent / "shared" / "data"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=None, help="checkpoint or run folder (default: train "
                   "a small vggnet1 first)")
    p.add_argument("--data", default=str(DATA / "sc_v2_test_part"), help="dataset root")
    p.add_argument("--noise-dir", default=str(DATA / "background_noise"))
    p.add_argument("--minutes", type=float, default=10.0, help="length of the recording")
    p.add_argument("--out", default="/tmp/kwspot-streaming", help="work folder")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for both backends (1)")
    p.add_argument("--latency-runs", type=int, default=300, help="batch-1 runs timed per backend")
    p.add_argument("--hop-ms", type=float, default=None)
    p.add_argument("--smooth-ms", type=float, default=None)
    p.add_argument("--threshold", type=float, default=None)
    p.add_argument("--refractory-ms", type=float, default=None)
    p.add_argument("--tolerance", type=float, default=0.5,
                   help="a detection within this many seconds of a word's span is a hit")
    p.add_argument("--no-int8", action="store_true", help="skip the int8 ONNX model")
    p.add_argument("--tune", action="store_true",
                   help="choose threshold and smoothing on a validation-split recording")
    p.add_argument("--quick", action="store_true",
                   help="CI smoke run: tiny model, 0.5-minute recording, few timing runs")
    p.add_argument("--json", default=None, help="write the figures here")
    args = p.parse_args(argv)
    if args.quick:
        args.minutes = min(args.minutes, 0.25)
        args.latency_runs = min(args.latency_runs, 20)
    return args


class Recorder:
    """Wraps a classifier and keeps every posterior it returns (for replay)."""

    def __init__(self, clf) -> None:
        self.clf, self.rows = clf, []
        self.labels, self.sample_rate = clf.labels, clf.sample_rate
        self.clip_samples, self.source = clf.clip_samples, clf.source

    def predict_proba(self, waves: np.ndarray) -> np.ndarray:
        p = self.clf.predict_proba(waves)
        self.rows.append(p)
        return p


class Replay:
    """Returns recorded posteriors in order: every setting but the hop is a replay away."""

    def __init__(self, rec: Recorder) -> None:
        self.probs = np.concatenate(rec.rows)
        self.labels, self.sample_rate = rec.labels, rec.sample_rate
        self.clip_samples, self.source = rec.clip_samples, rec.source
        self.i = 0

    def predict_proba(self, waves: np.ndarray) -> np.ndarray:
        out = self.probs[self.i:self.i + len(waves)]
        self.i += len(waves)
        return out


def train_small(out: Path, data: str, quick: bool) -> Path:
    from kwspot.config import TrainConfig
    from kwspot.train import train

    iters = 10 if quick else 1500
    cfg = TrainConfig.resolve(dict(data=data, model="vggnet1", iters=iters, batch_size=32
                                   if quick else 128, log_every=iters if quick else 250,
                                   out=str(out / "model"), device="cpu"))
    print(f"training vggnet1 for {iters} iterations ...", flush=True)
    train(cfg)
    return out / "model" / "best.pt"


def latency_ms(clf, clip: np.ndarray, runs: int) -> float:
    """Median wall time of ``predict_proba`` on one clip (batch 1)."""
    x = clip[None].astype(np.float32)
    for _ in range(5):
        clf.predict_proba(x)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        clf.predict_proba(x)
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def tune(clf, rec_cfg, work: Path, base, tolerance: float,
         slack: int = 2) -> tuple[object, str]:
    """The setting for a validation-split recording: among those within ``slack`` of the
    most (hits - false alarms), the shortest smoothing (lowest latency), then the fewest
    false alarms. Returns it and the grid as text."""
    from kwspot.evaluate.longaudio import build_recording
    from kwspot.evaluate.scoring import score_detections
    from kwspot.infer.filedetect import detect_file

    val_cfg = replace(rec_cfg, split="validation", seed=rec_cfg.seed + 1)
    truth = build_recording(val_cfg, work / "val.wav", work / "val.csv")
    rec = Recorder(clf)
    run = detect_file(rec, str(work / "val.wav"), base)
    words = [w for w in clf.labels if w not in ("silence", "unknown")]
    lines = [f"tuning on {work / 'val.wav'} ({run.audio_s / 60:.1f} min, validation split): "
             "hits - false alarms (FA/h)"]
    smooths = [base.hop_ms, 100.0, 200.0, 300.0, 500.0, 750.0, 1000.0]
    thresholds = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
    lines.append("smooth_ms \\ threshold " + " ".join(f"{t:>11}" for t in thresholds))
    grid = []
    for sm in smooths:
        cells = []
        for th in thresholds:
            cfg = replace(base, smooth_ms=sm, threshold=th)
            dets = detect_file(Replay(rec), str(work / "val.wav"), cfg).detections
            t = score_detections([(d.time_s, d.word) for d in dets], truth, words,
                                 run.audio_s, tolerance).total
            grid.append((t.hits - t.false_alarms, t.false_alarms, cfg))
            fa_h = t.false_alarms * 3600 / run.audio_s
            cells.append(f"{t.hits - t.false_alarms:>4} ({fa_h:>4.0f})")
        lines.append(f"{sm:>21g} " + " ".join(f"{c:>11}" for c in cells))
    top = max(g[0] for g in grid)
    best = min((g for g in grid if g[0] >= top - slack),
               key=lambda g: (g[2].smooth_ms, g[1]))[2]
    lines.append(f"chosen (within {slack} of the best {top}, shortest smoothing): "
                 f"smooth_ms {best.smooth_ms:g}, threshold {best.threshold:g}")
    return best, "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t_start = time.perf_counter()
    from kwspot.checkpoint import load_checkpoint
    from kwspot.evaluate.longaudio import RecordingConfig, build_recording
    from kwspot.evaluate.scoring import score_detections
    from kwspot.infer.backend import load_classifier
    from kwspot.infer.detector import DetectorConfig
    from kwspot.infer.export import export_checkpoint
    from kwspot.infer.filedetect import detect_file

    work = Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    if not Path(args.data).is_dir():
        print(f"no data at {args.data}; set KWSPOT_TEST_DATA or --data", file=sys.stderr)
        return 2
    ckpt_path = Path(args.checkpoint) if args.checkpoint else train_small(work, args.data,
                                                                          args.quick)
    ckpt = load_checkpoint(ckpt_path)
    cfg = ckpt.get("config") or {}
    words = tuple(w for w in ckpt["labels"] if w not in ("silence", "unknown"))
    rec_cfg = RecordingConfig(root=cfg.get("data") or args.data, noise_dir=args.noise_dir,
                              words=words, val_pct=cfg.get("val_pct", 10.0),
                              test_pct=cfg.get("test_pct", 10.0),
                              split_salt=cfg.get("split_salt", ""), minutes=args.minutes)

    models = {"pytorch": ckpt_path}
    models["onnx"] = export_checkpoint(ckpt_path, work / "model.onnx").path
    if not args.no_int8:
        from kwspot.data.dataset import DataConfig, load_dataset

        train_split = load_dataset(DataConfig(root=rec_cfg.root, words=words,
                                              val_pct=rec_cfg.val_pct, test_pct=rec_cfg.test_pct,
                                              split_salt=rec_cfg.split_salt),
                                   verbose=False).splits["training"]
        pick = np.random.default_rng(0).choice(len(train_split), size=min(256, len(train_split)),
                                               replace=False)
        calib = train_split.waves[np.sort(pick)].astype(np.float32) / 32768.0
        models["onnx-int8"] = export_checkpoint(ckpt_path, work / "model-int8.onnx",
                                                quantize="int8", calibration=calib).path
    clfs = {k: load_classifier(v, threads=args.threads) for k, v in models.items()}

    given = {k: getattr(args, k) for k in ("hop_ms", "smooth_ms", "threshold", "refractory_ms")
             if getattr(args, k) is not None}
    det_cfg = DetectorConfig(**given)
    tuning = ""
    if args.tune:
        det_cfg, tuning = tune(clfs["onnx"], rec_cfg, work, det_cfg, args.tolerance)

    truth = build_recording(rec_cfg, work / "test.wav", work / "test.csv")
    n_cmd = sum(e.kind == "command" for e in truth)
    clip = np.zeros(16000, np.float32)
    results = {}
    scores = {}
    for name, clf in clfs.items():
        run = detect_file(clf, str(work / "test.wav"), det_cfg)
        s = score_detections([(d.time_s, d.word) for d in run.detections], truth, words,
                             run.audio_s, args.tolerance)
        scores[name] = s
        t = s.total
        lat = latency_ms(clf, clip, args.latency_runs)
        lat_delay = statistics.median(d.decided_s - d.time_s for d in run.detections) \
            if run.detections else float("nan")
        results[name] = {"hits": t.hits, "misses": t.misses, "false_alarms": t.false_alarms,
                         "fa_per_hour": s.fa_per_hour(), "recall": t.recall, "rtf": run.rtf,
                         "latency_ms_batch1": lat, "detection_delay_s": lat_delay,
                         "windows": run.windows, "elapsed_s": run.elapsed_s}

    load = os.getloadavg()[0]
    print()
    if tuning:
        print(tuning + "\n")
    print(f"recording: {work / 'test.wav'} ({args.minutes:g} min, testing split of "
          f"{rec_cfg.root}: {n_cmd} command words, {len(truth) - n_cmd} distractors)")
    print(f"model: {ckpt['model']} ({ckpt_path}, iteration {ckpt.get('iteration')}, "
          f"valid acc {ckpt.get('best_acc', float('nan')):.4f})")
    print(f"detector: hop {det_cfg.hop_ms:g} ms, smoothing {det_cfg.smooth_ms:g} ms, threshold "
          f"{det_cfg.threshold:g}, refractory {det_cfg.refractory_ms:g} ms; hit tolerance "
          f"±{args.tolerance:g} s; {args.threads} thread(s); load average {load:.1f}")
    print()
    print(f"{'backend':<10} {'hits':>5} {'misses':>6} {'FA':>4} {'FA/h':>6} {'recall':>6} "
          f"{'RTF':>7} {'batch-1 ms':>10} {'delay s':>7}")
    for name, r in results.items():
        print(f"{name:<10} {r['hits']:>5} {r['misses']:>6} {r['false_alarms']:>4} "
              f"{r['fa_per_hour']:>6.1f} {r['recall']:>6.3f} {r['rtf']:>7.4f} "
              f"{r['latency_ms_batch1']:>10.3f} {r['detection_delay_s']:>7.2f}")
    print("\nper word (onnx):")
    print(scores["onnx"].table())
    print(f"\ntotal time {time.perf_counter() - t_start:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "results": results, "detector": asdict(det_cfg), "recording": asdict(rec_cfg),
            "checkpoint": str(ckpt_path), "threads": args.threads, "load": load}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
