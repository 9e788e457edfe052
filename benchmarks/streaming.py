"""Streaming detection you can leave on: recall on held-out speakers against false alarms per
hour of real speech (DET curves), thresholds calibrated on other speech; and the speed of the
streaming detector with PyTorch and onnxruntime.

    python benchmarks/streaming.py           # full run (trains every recipe's models)
    python benchmarks/streaming.py --quick   # CI smoke run: tiny models, a few negative files

The ten command words are trained on the training speakers of ``sc_v2_test_part`` and measured
on a recording built from its testing speakers (unheard) over background noise, plus real
speech that holds none of the words (``speech_phone``, ``speech_s2i``). The negative files are
split in two halves by speaker/session; thresholds are calibrated on one half and measured on
the other, then the other way round, and the two measurements are pooled: every second of
negative speech is measured with thresholds chosen without it. A recipe that trains on negative
speech trains one model per half, on the half it is then calibrated on; the last recipe also
trains on the wake-word recordings of ``wakewords/`` (other speakers, none of the words, never
measured on).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import _common as C
import numpy as np

DATA = C.data_dir()
SPEECH = ["speech_phone", "speech_s2i"]
# speech_s2i (spoken coffee orders) has no transcripts and may hold these words ("no sugar",
# "on the side", "to go"): their detections there are not counted, nor its hours for them.
MAYBE = {"speech_s2i": ("on", "no", "go")}
# More negative speech for training only (never measured on): the real recordings of two wake
# words, by more than 50 other speakers, none of them a command word.
WAKE_SPEECH = ("computer", "snowboy")
WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
ALIKE_SPEAKERS = 48  # synthetic speakers of the sound-alikes (--sound-alikes)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(DATA / "sc_v2_test_part"), help="dataset root")
    p.add_argument("--noise-dir", default=str(DATA / "background_noise"))
    p.add_argument("--minutes", type=float, default=10.0, help="length of the test recording")
    p.add_argument("--model", default="dscnn_m", help="from-scratch model")
    p.add_argument("--iters", type=int, default=600)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--embed-model", default=None,
                   help="registered models on the speech-embedding front-end to compare, "
                   "comma-separated (default: emb_mlp,emb_gru when registered; the quick run "
                   "only the first; 'none' to leave them out)")
    p.add_argument("--finetune-layers", type=int, default=0, metavar="N",
                   help="add a recipe: the last embedding recipe with the embedding's last N "
                   "layers fine-tuned at lr x 0.1 (8 augmented copies; 0: none); with "
                   "--sound-alikes, the sound-alikes recipe fine-tuned too")
    p.add_argument("--sound-alikes", type=int, default=0, metavar="N",
                   help="add a recipe: the wake-word-speech embedding recipe with N "
                   "synthesized sound-alikes of each command word (`kwspot synth "
                   "--negatives-for`, e.g. down -> done, town) as negatives (0: none)")
    p.add_argument("--sound-alike-clips", type=int, default=16, metavar="K",
                   help="synthetic clips of each sound-alike, each by its own speaker")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best",
                   help="which checkpoint of each run detects: best.pt (chosen by 12-class "
                   "validation accuracy) or last.pt (the end of training)")
    p.add_argument("--smoothing", default="20,200,500,1000",
                   help="posterior smoothing spans to compare, ms (20 = none)")
    p.add_argument("--target", type=float, default=1.0,
                   help="false alarms per hour the thresholds are calibrated for")
    p.add_argument("--out", default="/tmp/kwspot-streaming", help="work folder (trained "
                   "models there are reused when their settings match)")
    p.add_argument("--det-png", default=str(C.REPO / "docs" / "streaming_det.png"))
    p.add_argument("--threads", type=int, default=1, help="CPU threads per model (1)")
    p.add_argument("--latency-runs", type=int, default=300, help="batch-1 runs timed per backend")
    p.add_argument("--no-int8", action="store_true", help="skip the int8 ONNX model")
    p.add_argument("--quick", action="store_true",
                   help="CI smoke run: dscnn_s (without negative speech) and the first "
                   "embedding head for 3 iterations on 24 clips per class, 0.25-min recording, "
                   "10 negative files per folder")
    p.add_argument("--json", default=None, help="write every figure here")
    p.add_argument("--recipes", default=None, metavar="N,N",
                   help="only these recipes, numbered as in the DET plot (an ensemble's "
                   "members are trained with it but scored only when listed)")
    args = p.parse_args(argv)
    args.smoothing = [float(s) for s in args.smoothing.split(",")]
    args.files_per_folder = None
    if args.quick:
        args.minutes = min(args.minutes, 0.25)
        args.iters = 3
        args.batch_size = 16
        args.model = "dscnn_s"
        args.latency_runs = min(args.latency_runs, 20)
        args.smoothing = [500.0]
        args.files_per_folder = 10
        args.out = str(Path(args.out) / "quick")
        args.det_png = str(Path(args.out) / "streaming_det.png")
    return args


@dataclass
class Recipe:
    name: str
    model: str
    options: list[str] = field(default_factory=list)  # extra `kwspot train` options
    fold_negatives: bool = False  # train one model per half on that half's negative speech
    more_negatives: list[Path] = field(default_factory=list)  # speech never measured on
    members: tuple[int, ...] = ()  # not trained: the heads of these recipes averaged


def train_command(args: argparse.Namespace, out: Path, recipe: Recipe,
                  negatives: Path | None) -> list[str]:
    if recipe.members:  # `kwspot ensemble` of the members' runs of this half
        ckpts = [str(out.parent.parent / f"recipe{r}" / out.name / f"{args.checkpoint}.pt")
                 for r in recipe.members]
        return [sys.executable, "-m", "kwspot", "ensemble",
                *(a for c in ckpts for a in ("--checkpoint", c)),
                "--out", str(out / f"{args.checkpoint}.pt"), "--overwrite"]
    cmd = [sys.executable, "-m", "kwspot", "train", "--data", args.data, "--val-pct", "10",
           "--test-pct", "20", "--model", recipe.model, "--iters", str(args.iters),
           "--batch-size", str(args.batch_size), "--device", "cpu", "--threads",
           str(args.threads), "--seed", "0", "--log-every", str(max(1, args.iters // 4)),
           "--out", str(out), "--overwrite", *recipe.options]
    more = [str(p) for p in recipe.more_negatives]
    return cmd + (["--negatives", ",".join([str(negatives), *more])]
                  if negatives is not None else [])


def sound_alikes(out: Path, words: tuple[str, ...], per_word: int, clips: int) -> list[Path]:
    """Folders of ``clips`` synthesized clips of each of ``per_word`` words that sound like
    each of ``words`` (``kwspot synth --negatives-for``; made once, reused), for training as
    negatives."""
    listed = ",".join(words)
    cmd = [sys.executable, "-m", "kwspot", "synth", "--out", str(out), "--words", listed,
           "--unknown-words", "", "--negatives-for", listed, "--negatives", str(per_word),
           "--per-word", str(clips), "--speakers", str(ALIKE_SPEAKERS), "--noise-dirs",
           f"{DATA / 'esc10'},{DATA / 'background_noise'}"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    own = {*words, "_background_noise_"}
    return sorted(d for d in out.iterdir() if d.is_dir() and d.name not in own)


def train_all(jobs: list[tuple[Path, list[str]]]) -> None:
    """Run the training commands side by side (one process each; logs in ``out/train.log``);
    a run folder whose ``command.txt`` matches its command is reused as it is."""
    running = []
    for out, cmd in jobs:
        stamp = out / "command.txt"
        if (out / "best.pt").is_file() and stamp.is_file() and \
                stamp.read_text() == " ".join(cmd[1:]):
            continue
        out.mkdir(parents=True, exist_ok=True)
        for f in ("best.pt", "last.pt", "command.txt"):
            (out / f).unlink(missing_ok=True)
        log = open(out / "train.log", "w")  # noqa: SIM115 (closed below)
        running.append((out, cmd, log, subprocess.Popen(cmd, stdout=log,
                                                        stderr=subprocess.STDOUT)))
    for out, cmd, log, proc in running:
        rc = proc.wait()
        log.close()
        if rc != 0:
            raise SystemExit(f"training failed ({out / 'train.log'}): {' '.join(cmd)}")
        (out / "command.txt").write_text(" ".join(cmd[1:]))


def fold_folders(work: Path, halves: list[list[Path]]) -> list[Path]:
    """One folder of links to the negative files of each half (what `train --negatives`
    reads)."""
    out = []
    for k, files in enumerate(halves):
        d = work / f"negatives_half{k}"
        d.mkdir(parents=True, exist_ok=True)
        for old in d.iterdir():
            old.unlink()
        for f in files:
            (d / f"{f.parent.name}__{f.name}").symlink_to(f.resolve())
        out.append(d)
    return out


def latency_ms(clf, runs: int) -> float:
    """Median wall time of ``predict_proba`` on one clip (batch 1)."""
    x = np.zeros((1, clf.clip_samples), np.float32)
    for _ in range(5):
        clf.predict_proba(x)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        clf.predict_proba(x)
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def speed_table(args: argparse.Namespace, ckpt: Path, work: Path, wav: Path) -> str:
    """The streaming detector on the first 2 minutes of the recording with each backend:
    real-time factor and batch-1 latency (default detector settings)."""
    from kwspot.infer.backend import load_classifier
    from kwspot.infer.export import export_checkpoint, training_clips
    from kwspot.infer.filedetect import detect_file

    models = {"PyTorch": ckpt, "onnxruntime": export_checkpoint(ckpt, work / "model.onnx").path}
    if not args.no_int8:
        models["onnxruntime int8"] = export_checkpoint(
            ckpt, work / "model-int8.onnx", quantize="int8",
            calibration=training_clips(ckpt)).path
    import soundfile as sf

    excerpt = work / "speed.wav"  # the first 2 minutes of the recording
    x, sr = sf.read(str(wav), dtype="int16", frames=120 * 16000)
    sf.write(str(excerpt), x, sr, subtype="PCM_16")
    rows = []
    for name, path in models.items():
        clf = load_classifier(path, threads=args.threads)
        run = detect_file(clf, str(excerpt), None)
        delay = statistics.median(d.decided_s - d.time_s for d in run.detections) \
            if run.detections else float("nan")
        rows.append([name, f"{run.rtf:.4f}", f"{latency_ms(clf, args.latency_runs):.3f}",
                     f"{delay:.2f}", f"{run.windows:,}"])
    return C.table(["backend", "real-time factor", "batch-1 ms", "decision delay s",
                    "windows"], rows)


def embed_models(args: argparse.Namespace) -> list[str]:
    """The heads on the speech-embedding front-end to compare, of those registered."""
    from kwspot import models

    if args.embed_model:
        chosen = [] if args.embed_model == "none" else args.embed_model.split(",")
    else:
        names = [n for n in models.list_models() if models.get_spec(n).frontend == "embedding"]
        chosen = [n for n in ("emb_mlp", "emb_gru") if n in names] or names[:1]
    return chosen[:1] if args.quick else chosen


def cached_collect(clf, files, hop: int, cache: Path, key: str):
    """:func:`kwspot.evaluate.score.collect`, kept in ``cache`` (an .npz of the posteriors)
    and reused while ``key`` (model file and settings) is unchanged."""
    from kwspot.evaluate.longaudio import read_truth
    from kwspot.evaluate.posteriors import Posteriors, Skipped
    from kwspot.evaluate.score import Collected, collect

    if cache.is_file():
        z = np.load(cache)
        meta = json.loads(str(z["meta"]))
        if meta["key"] == key:
            cut = np.cumsum([0, *meta["rows"]])
            probs = z["probs"]  # read once: each z["probs"] decodes the whole array again
            ends = z["ends"] if "ends" in z else None
            posts = [Posteriors(s, probs[a:b], d, None, None if ends is None else ends[a:b])
                     for s, a, b, d in zip(meta["sources"], cut[:-1], cut[1:], meta["seconds"],
                                           strict=True)]
            n = meta["negatives"]
            return Collected([], [(p, read_truth(Path(p.source).with_suffix(".csv")))
                                  for p in posts[n:]], posts[:n], files.negative_sources,
                             [Skipped(*s) for s in meta["skipped"]],
                             cached_hop(meta, ends, hop), files.excluded)
    audio = collect(clf, files, hop)
    posts = audio.negatives + [p for p, _ in audio.recordings]
    meta = {"key": key, "hop": audio.hop, "negatives": len(audio.negatives),
            "rows": [len(p.probs) for p in posts],
            "sources": [p.source for p in posts], "seconds": [p.audio_s for p in posts],
            "skipped": [[s.path, s.reason] for s in audio.skipped]}
    ends = {} if any(p.ends is None for p in posts) else \
        {"ends": np.concatenate([p.ends for p in posts])}
    np.savez(cache, probs=np.concatenate([p.probs for p in posts]), meta=json.dumps(meta),
             **ends)
    return audio


def cached_hop(meta: dict, ends: np.ndarray | None, hop: int) -> int:
    """The hop the cached posteriors were computed at: an embedding model's own (80 ms, not
    the ``hop`` asked for); caches written before it was stored give it by their window ends."""
    if "hop" in meta:
        return int(meta["hop"])
    if ends is not None and len(ends) > 1:
        return int(ends[1] - ends[0])
    return hop


def collect_job(job: tuple) -> None:
    """One model over every file, kept in its posterior cache (run in a worker process)."""
    from kwspot.evaluate.score import plan
    from kwspot.infer.backend import load_classifier

    onnx, threads, wav, negatives, words, maybe, cache, key = job
    clf = load_classifier(onnx, threads=threads)
    cached_collect(clf, plan([wav], negatives, words, maybe), round(0.02 * clf.sample_rate),
                   Path(cache), key)


@dataclass
class Scored:
    """One recipe at one smoothing: pooled over the two halves."""

    recipe: str
    smooth_ms: float
    curves: list  # pooled DetCurves
    result: object  # pooled OperatingResult at the calibrated thresholds (one for all words)
    thresholds: list[dict[str, float]]  # calibrated per half
    valid_acc: float
    per_word: object = None  # pooled OperatingResult at per-word calibrated thresholds
    alarms: list = field(default_factory=list)  # (score, word, file, time s) at the thresholds


def false_alarms(model, config, negatives, excluded: dict) -> list[tuple]:
    """``(score, word, file, time s)`` of every detection in the negative files (the words a
    file may hold left out, as the measurement leaves them out)."""
    from dataclasses import replace

    from kwspot.infer.detector import StreamingDetector

    words = config.words or tuple(config.thresholds)
    out = []
    for p in negatives:
        keep = tuple(w for w in words if w not in excluded.get(p.source, ()))
        if keep:
            det = StreamingDetector(model, replace(config, words=keep))
            out += [(d.confidence, d.word, p.source, d.time_s)
                    for d in det.replay(p.probs, p.ends)]
    return out


def score_recipe(args, recipe: Recipe, ckpts: list[Path], halves_post, stored_models,
                 audios, valid_acc: float) -> list[Scored]:
    from kwspot.evaluate.det import pool_curves
    from kwspot.evaluate.operating import pool_results
    from kwspot.evaluate.score import Scorer
    from kwspot.infer.detector import DetectorConfig

    out = []
    for smooth_ms in args.smoothing:
        runs, results, ths, per_word, alarms = [], [], [], [], []
        for k in (0, 1):  # calibrate on half k, measure on the other
            m = k if recipe.fold_negatives else 0
            scorer = Scorer(audios[m], stored_models[m], DetectorConfig(smooth_ms=smooth_ms))
            cal, meas = halves_post[m][k], halves_post[m][1 - k]
            op = scorer.calibrate(cal, args.target)
            curves, res = scorer.measure(meas, op.detector_config())
            runs.append(curves)
            results.append(res)
            ths.append(op.thresholds)
            alarms += false_alarms(stored_models[m], op.detector_config(), meas,
                                   audios[m].excluded)
            own = scorer.calibrate(cal, args.target, per_word=True)
            per_word.append(scorer.measure(meas, own.detector_config(), with_curves=False)[1])
        out.append(Scored(recipe.name, smooth_ms, pool_curves(runs), pool_results(results), ths,
                          valid_acc, pool_results(per_word), sorted(alarms, reverse=True)))
    return out


def main(argv: list[str] | None = None) -> int:  # noqa: C901 (a script reads top to bottom)
    args = parse_args(argv)
    t_start = time.perf_counter()
    C.header("Streaming detection: false alarms per hour of real speech, DET curves, "
             "calibrated thresholds", None if argv is None else ["benchmarks/streaming.py",
                                                                   *argv])
    root = C.speech_commands()
    negative_dirs = [DATA / n for n in SPEECH]
    if root is None or not all(d.is_dir() for d in negative_dirs):
        print("skipped: needs sc_v2_test_part and " + ", ".join(SPEECH) + f" under {DATA}")
        return 0
    from kwspot.checkpoint import load_checkpoint
    from kwspot.evaluate.calibrate import split_files
    from kwspot.evaluate.detplot import plot_det
    from kwspot.evaluate.longaudio import RecordingConfig, build_recording, read_truth
    from kwspot.evaluate.posteriors import audio_files
    from kwspot.evaluate.score import plan, stored_model
    from kwspot.infer.backend import load_classifier
    from kwspot.infer.export import export_checkpoint

    work = Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    if args.quick:  # a few clips per class: the embedding recipe embeds every training clip
        args.data = str(C.small_copy(Path(args.data), work / "data_small", 24))
    neg_files = [f for d in negative_dirs for f in audio_files([d])[:args.files_per_folder]]
    halves = list(split_files(neg_files))
    fold_dirs = fold_folders(work, halves)
    recipes = [Recipe(f"from scratch ({args.model})", args.model)]
    if not args.quick:  # CI: the embedding recipe below trains on negative speech already
        recipes.append(Recipe(f"from scratch ({args.model}) + negative speech", args.model,
                              fold_negatives=True))
    emb = embed_models(args)
    opts = [] if args.quick else ["--iters", "3000", "--batch-size", "128"]
    for name in emb:  # after the from-scratch recipes: a run folder's number stays its own
        recipes.append(Recipe(f"speech embedding ({name}) + negative speech", name, opts,
                              fold_negatives=True))
    wake = [DATA / "wakewords" / w for w in WAKE_SPEECH]
    if emb and not args.quick and all(d.is_dir() for d in wake):
        recipes.append(Recipe(f"speech embedding ({emb[-1]}) + negative speech + wake-word "
                              "speech", emb[-1], opts, fold_negatives=True,
                              more_negatives=wake))
        wake_only = len(recipes) - 1
        tune = ["--embedding-lr-scale", "0.1", "--embedding-tune-layers",
                str(args.finetune_layers), "--feature-copies", "8"]
        if args.finetune_layers:
            recipes.append(Recipe(f"the same, the embedding's last {args.finetune_layers} "
                                  "layers fine-tuned", emb[-1], opts + tune,
                                  fold_negatives=True, more_negatives=wake))
            fine_tuned = len(recipes) - 1
        if args.sound_alikes:
            n, k = args.sound_alikes, args.sound_alike_clips
            alikes = sound_alikes(work / f"sound-alikes-{n}x{k}", WORDS, n, k)
            recipes.append(Recipe(f"speech embedding ({emb[-1]}) + negative speech + wake-word "
                                  f"speech + {len(alikes)} synthesized sound-alikes x {k}",
                                  emb[-1], opts, fold_negatives=True,
                                  more_negatives=wake + alikes))
            with_alikes = len(recipes) - 1
            recipes.append(Recipe(f"`kwspot ensemble`: the sound-alikes recipe's head and the "
                                  f"head without them ({emb[-1]}), averaged", emb[-1],
                                  fold_negatives=True, members=(wake_only, with_alikes)))
            if args.finetune_layers:
                recipes.append(Recipe(f"the sound-alikes recipe, the embedding's last "
                                      f"{args.finetune_layers} layers fine-tuned", emb[-1],
                                      opts + tune, fold_negatives=True,
                                      more_negatives=wake + alikes))
                recipes.append(Recipe("`kwspot ensemble` of three: the two heads above and the "
                                      "model with the fine-tuned embedding (no sound-alikes), "
                                      "averaged", emb[-1], fold_negatives=True,
                                      members=(wake_only, fine_tuned, with_alikes)))

    words = WORDS
    rec_cfg = RecordingConfig(root=args.data, noise_dir=args.noise_dir, words=words,
                              val_pct=10.0, test_pct=20.0, minutes=args.minutes)
    wav = work / "test.wav"
    stamp = work / "test.json"
    rec_key = json.dumps(asdict(rec_cfg))
    if wav.is_file() and stamp.is_file() and stamp.read_text() == rec_key:
        truth = read_truth(work / "test.csv")
    else:
        truth = build_recording(rec_cfg, wav, work / "test.csv")
        stamp.write_text(rec_key)
    n_cmd = sum(e.kind == "command" for e in truth)
    maybe = {str(DATA / k): list(v) for k, v in MAYBE.items()}

    scored = []
    iters: dict[str, str] = {}  # iterations of the checkpoint(s) used, per recipe
    speed = ""
    notes = []
    listed = (set(range(len(recipes))) if args.recipes is None
              else {int(n) - 1 for n in args.recipes.split(",")})
    if not listed <= set(range(len(recipes))):
        raise SystemExit(f"--recipes: numbers from 1 to {len(recipes)} in this run")
    needed = listed | {m for r in listed for m in recipes[r].members}
    runs = {(r, k): (work / f"recipe{r}" / f"half{k}", train_command(
        args, work / f"recipe{r}" / f"half{k}", recipe,
        fold_dirs[k] if recipe.fold_negatives else None))
        for r, recipe in enumerate(recipes) if r in needed
        for k in ((0, 1) if recipe.fold_negatives else (0,))}
    train_all([runs[key] for key in runs if not recipes[key[0]].members])
    train_all([runs[key] for key in runs if recipes[key[0]].members])  # after their members
    # Each model runs once over every file, the models side by side (one process each).
    jobs = {}
    for (r, k), (out, _) in runs.items():
        if r not in listed:
            continue
        name = f"recipe{r}_half{k}{'' if args.checkpoint == 'best' else '_last'}"
        onnx = export_checkpoint(out / f"{args.checkpoint}.pt", work / f"{name}.onnx").path
        jobs[r, k] = (str(onnx), args.threads, str(wav), [str(f) for f in neg_files], words,
                      maybe, str(work / f"{name}_posteriors.npz"),
                      f"{(out / 'command.txt').read_text()} {rec_key}")
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(len(jobs), os.cpu_count() or 1), mp_context=spawn) as ex:
        list(ex.map(collect_job, jobs.values()))
    for r, recipe in enumerate(recipes):
        if r not in listed:
            continue
        folds = (0, 1) if recipe.fold_negatives else (0,)
        ckpts = [runs[r, k][0] / f"{args.checkpoint}.pt" for k in folds]
        loaded = [load_checkpoint(c) for c in ckpts]
        accs = [c.best_acc if c.best_acc >= 0 else float("nan") for c in loaded]  # ensemble: none
        iters[recipe.name] = "–" if recipe.members else "/".join(str(c.iteration) for c in loaded)
        audios, models, halves_post = [], [], []
        for k in range(len(ckpts)):
            job = jobs[r, folds[k]]
            clf = load_classifier(job[0], threads=args.threads)
            audio = cached_collect(clf, plan([wav], neg_files, words, maybe),
                                   round(0.02 * clf.sample_rate), Path(job[6]), job[7])
            notes += [f"skipped {s.reason}" for s in audio.skipped]
            by = {p.source: p for p in audio.negatives}
            halves_post.append([[by[str(f)] for f in h if str(f) in by] for h in halves])
            audios.append(audio)
            models.append(stored_model(clf))
        scored += score_recipe(args, recipe, ckpts, halves_post, models, audios,
                               float(np.mean(accs)))
        if r == 0:
            speed = speed_table(args, ckpts[0], work, wav)

    hours = [sum(sf_info_s(f) for f in h) / 3600 for h in halves]
    print(f"Positives: a {args.minutes:g}-minute recording of {n_cmd} command words spoken by "
          f"the testing speakers of `sc_v2_test_part` (split 10/20 % validation/testing by "
          f"speaker; no speaker heard in training), placed over background noise with unknown "
          f"words and silence between them. Negatives: {len(neg_files)} files of real speech "
          f"holding none of the words ({', '.join(f'`{s}`' for s in SPEECH)}; "
          f"{hours[0] + hours[1]:.2f} h), split by speaker/session into two halves of "
          f"{hours[0]:.2f} h and {hours[1]:.2f} h. "
          + "; ".join(f"`{k}` may hold {', '.join(v)} (no transcripts): detections of those "
                      "words there are not counted, and its hours do not count for them"
                      for k, v in MAYBE.items()) + ".")
    print()
    print(f"Calibrated: thresholds chosen on one half for {args.target:g} false alarm(s) per "
          "hour (all words together), measured on the other half, then the other way round; "
          "figures pooled over both (every second of negative speech measured with thresholds "
          "chosen without it). Default (`kwspot score --calibrate`): one threshold for all "
          "words; 'per word': each word its own threshold for an equal share of the target "
          "(`--calibrate-per-word`). A recipe marked 'negative "
          "speech' trains one model per half on that half's speech and is calibrated on it, "
          "measured on the other. R@N/h: the best recall of a threshold sweep at ≤ N false "
          "alarms per hour of the measured speech (thresholds chosen on the measured audio "
          "itself: an upper bound). Hop 20 ms (the embedding model: its own 80 ms), refractory "
          "1 s, hit tolerance ±0.5 s."
          + (" **Quick run: 3 training iterations, the figures mean nothing.**"
             if args.quick else ""))
    print()
    rows = []
    for s in scored:
        t = s.result.total
        all_curve = s.curves[-1]
        acc = "–" if math.isnan(s.valid_acc) else f"{s.valid_acc * 100:.1f}"
        rows.append([s.recipe, iters[s.recipe], f"{s.smooth_ms:g}", acc,
                     *(f"{all_curve.recall_at(x) * 100:.1f}" for x in (0.5, 1.0, 5.0)),
                     f"{t.recall * 100:.1f}", f"{s.result.fa_per_hour():.2f}",
                     f"{s.per_word.total.recall * 100:.1f}", f"{s.per_word.fa_per_hour():.2f}",
                     f"{s.result.most_hours:.2f}"])
    print(C.table(["recipe", "iterations", "smoothing ms", "val acc %", "R@0.5/h %", "R@1/h %",
                   "R@5/h %",
                   f"calibrated ({args.target:g}/h): recall %", "FA/h",
                   "per word: recall %", "FA/h", "hours measured"],
                  rows, "lrrrrrrrrrrr"))
    print()
    best = max(scored, key=lambda s: (s.result.fa_per_hour() <= args.target,
                                      s.result.total.recall))
    print(f"Per word, best calibrated row ({best.recipe}, smoothing {best.smooth_ms:g} ms): "
          "recall on the recording and false alarms per hour on the measured halves.")
    print()
    wrows = []
    for w, c in best.result.per_word.items():
        wrows.append([w, str(c.positives), f"{c.recall * 100:.1f}", str(c.false_alarms),
                      f"{best.result.hours[w]:.2f}", f"{best.result.fa_per_hour(w):.2f}",
                      " / ".join(f"{th[w]:.4f}" for th in best.thresholds)])
    print(C.table(["word", "events (both halves)", "recall %", "false alarms", "hours",
                   "FA/h", "thresholds (half 0 / half 1)"], wrows))
    print()
    print_alarms(scored, args.target)
    met = [s for s in scored if s.result.fa_per_hour() <= 1.0 and s.result.total.recall >= 0.9]
    verdict = "**met**" if met else "**not met**"
    print(f"Goal (≥ 90% recall at ≤ 1 false alarm per hour of real speech, calibrated on other "
          f"speech): {verdict} — best calibrated row: {best.recipe}, smoothing "
          f"{best.smooth_ms:g} ms, {best.result.total.recall * 100:.1f}% recall at "
          f"{best.result.fa_per_hour():.2f} FA/h"
          + ("" if emb else "; no speech-embedding model in this run (none registered, or "
             "left out with --embed-model none), so only from-scratch models are compared")
          + ".")
    print()
    png = Path(args.det_png)
    chosen = [s for s in scored if s.smooth_ms == (500.0 if 500.0 in args.smoothing
                                                   else args.smoothing[0])]
    number = {r.name: str(i + 1) for i, r in enumerate(recipes)}  # names too long for a plot
    plot_curves = []
    for s in chosen:
        c = s.curves[-1]
        c.word = number[s.recipe]
        plot_curves.append(c)
    plot_det(plot_curves, png, title="10 command words: recall (test speakers) vs false alarms "
             "per hour of real speech", marks={number[s.recipe]: (
                 s.result.fa_per_hour(), s.result.total.recall) for s in chosen})
    shown = png.relative_to(C.REPO) if png.is_relative_to(C.REPO) else png
    print(f"DET plot (all words, smoothing {chosen[0].smooth_ms:g} ms; dots: the calibrated "
          "operating points; curves numbered by recipe: "
          + "; ".join(f"{number[s.recipe]} {s.recipe}" for s in chosen)
          + f"): ![DET]({shown})")
    print()
    print("Streaming speed (from-scratch model, default detector settings, "
          f"{args.threads} thread(s), the first 2 minutes of the recording above):")
    print()
    print(speed)
    print()
    for n in sorted(set(notes)):
        print(f"note: {n}")
    print(f"total time {(time.perf_counter() - t_start) / 60:.1f} min; load average "
          f"{C.load()} at the end")
    if args.json:
        Path(args.json).write_text(json.dumps([
            {"recipe": s.recipe, "smooth_ms": s.smooth_ms,
             "valid_acc": None if math.isnan(s.valid_acc) else s.valid_acc,
             "operating": s.result.to_dict(), "thresholds": s.thresholds,
             "det": [c.to_dict() for c in s.curves]} for s in scored], indent=1))
    return 0


def print_alarms(scored: list[Scored], target: float, top: int = 8) -> None:
    """Where the false alarms at the calibrated thresholds come from: per recipe (its best
    calibrated smoothing) the count in each negative folder, then the highest ones with the
    words really spoken there when the folder has transcripts."""
    import csv

    chosen = {}
    for s in scored:
        key = (s.result.fa_per_hour() <= target, s.result.total.recall)
        if s.recipe not in chosen or key > chosen[s.recipe][0]:
            chosen[s.recipe] = (key, s)
    rows, worst = [], []
    for _, s in chosen.values():
        n = {d: sum(Path(f).parent.name == d for _, _, f, _ in s.alarms) for d in SPEECH}
        rows.append([s.recipe, f"{s.smooth_ms:g}", *(str(n[d]) for d in SPEECH)])
        worst += [(a, s.recipe) for a in s.alarms]
    print("False alarms at the calibrated thresholds (one for all words), pooled over both "
          "measured halves; each recipe at its best calibrated smoothing:")
    print()
    print(C.table(["recipe", "smoothing ms", *(f"in {d}" for d in SPEECH)], rows))
    print()
    said = {}
    for d in SPEECH:
        tsv = DATA / d / "transcripts.tsv"
        if tsv.is_file():
            with open(tsv, newline="") as fh:
                said |= {r["file"]: r["transcription"] for r in csv.DictReader(fh,
                                                                                delimiter="\t")}
    worst.sort(key=lambda x: -x[0][0])
    if not worst:
        return
    print(f"The {min(top, len(worst))} highest of them (what was said: the folder's "
          "transcript, where it has one):")
    print()
    print(C.table(["score", "word", "recipe", "file", "at s", "what was said"],
                  [[f"{a[0]:.3f}", a[1], r, f"{Path(a[2]).parent.name}/{Path(a[2]).name}",
                    f"{a[3]:.1f}", said.get(Path(a[2]).name, "–").replace("|", "/")[:90]]
                   for a, r in worst[:top]], "rlllrl"))
    print()


def sf_info_s(path: Path) -> float:
    import soundfile as sf

    try:
        return sf.info(str(path)).duration
    except (sf.LibsndfileError, RuntimeError):
        return 0.0


if __name__ == "__main__":
    sys.exit(main())
