"""``kwspot score``: recall and false alarms per hour over a sweep of thresholds (DET), and
calibrated thresholds stored in a copy of the model."""

from __future__ import annotations

import argparse

from kwspot.cli.common import add_settings, settings_from
from kwspot.cli.detect import add_detector_args, describe_operating_point, detector_config
from kwspot.evaluate.settings import ScoreSettings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score", help="recall and false alarms per hour (DET curves), calibrated thresholds",
        description="Run a model once over positives (folders of clips named after a word, "
        "each clip holding it once, or a recording with its ground-truth CSV beside it) and "
        "negatives (folders of speech or noise with none of the words; any length, rate, "
        "WAV/FLAC), then report recall and false alarms per hour of negative audio over a "
        "sweep of thresholds and at the operating point in use. With --calibrate, thresholds "
        "are chosen on half of the negative files and measured on the other half.")
    add_detector_args(p)
    p.add_argument("--positives", nargs="+", default=[], metavar="PATH",
                   help="folders of clips per word (e.g. wakewords/computer), or recordings "
                   "with a ground-truth CSV of the same name")
    p.add_argument("--negatives", nargs="+", required=True, metavar="PATH",
                   help="folders or files of audio holding none of the words")
    p.add_argument("--maybe-contains", action="append", default=[], metavar="PATH=W1,W2",
                   help="negatives under PATH may hold these words: their detections there "
                   "are not counted and PATH's audio does not count for them (repeatable)")
    p.add_argument("--save-model", default=None, metavar="FILE",
                   help="with --calibrate: write a copy of the model (.pt or .onnx, like the "
                   "model) holding the calibrated operating point")
    p.add_argument("--overwrite", action="store_true", help="let --save-model replace a file")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="write det.json (every figure) and det.png (the DET plot) here")
    p.add_argument("--mine", default=None, metavar="DIR",
                   help="write 1-s clips of the negatives where a word reaches --mine-threshold "
                   "(with --calibrate: of the calibration half only) to DIR, for train "
                   "--negatives DIR")
    add_settings(p, ScoreSettings)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    from kwspot.errors import KwspotError
    from kwspot.evaluate.detplot import plot_det
    from kwspot.evaluate.score import (
        Scorer,
        collect,
        command_words,
        plan,
        score,
        stored_model,
    )
    from kwspot.evaluate.score_tables import describe_audio, format_score
    from kwspot.infer.backend import load_classifier
    from kwspot.infer.calibrated_model import write_calibrated_model
    from kwspot.progress import progress_bar

    settings = settings_from(args, ScoreSettings)
    if args.save_model and settings.calibrate is None:
        raise KwspotError("--save-model needs --calibrate (the thresholds to store)")
    clf = load_classifier(args.model, threads=args.threads)
    config = detector_config(args, clf)
    hop = round(config.hop_ms * clf.sample_rate / 1000)
    files = plan(args.positives, args.negatives, command_words(clf.labels, config),
                 _maybe(args.maybe_contains))
    if args.confirm and settings.calibrate is not None:
        _calibrate_search(clf, files)
    with progress_bar(len(files), "scoring") as advance:
        audio = collect(clf, files, hop, on_file=advance)
    for s in audio.skipped:
        print(f"kwspot: skipped {s.reason}", file=sys.stderr)
    report = score(audio, stored_model(clf), config, calibrate_fa_per_hour=settings.calibrate,
                   tolerance_s=settings.tolerance, per_word=settings.calibrate_per_word)
    if report.calibration is None:
        print(f"kwspot: {describe_operating_point(args, clf, config)}")
    print(describe_audio(report))
    print(f"detector: hop {report.config.hop_ms:g} ms, smoothing {report.config.smooth_ms:g} ms,"
          f" refractory {report.config.refractory_ms:g} ms; R@N/h: best recall of the sweep at "
          "<= N false alarms/h (threshold chosen on this audio)\n")
    print(format_score(report))
    if report.operating.recording_false_alarms:
        print(f"\n{report.operating.recording_false_alarms} detection(s) in the positive "
              "recording(s) matched no word (not counted above)")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "det.json").write_text(json.dumps(report.to_dict(), indent=1))
        t = report.operating.total
        plot_det(report.curves, out / "det.png", title=f"{Path(clf.source).name}: "
                 f"{describe_audio(report)[:90]}",
                 marks={"operating point": (report.operating.fa_per_hour(), t.recall)})
        print(f"\nwrote {out / 'det.json'} and {out / 'det.png'}")
    if args.mine:
        scorer = Scorer(audio, stored_model(clf), config, settings.tolerance)
        pool = audio.negatives if report.calibration is None else \
            [p for p in audio.negatives if p.source in set(report.calibrated_on)]
        clips = scorer.mine(pool, settings.mine_threshold, args.mine)
        print(f"wrote {len(clips)} hard-negative clip(s) to {args.mine} (from {len(pool)} "
              f"negative file(s){', the calibration half' if report.calibration else ''})")
    if args.save_model:
        path = write_calibrated_model(args.model, report.calibration, args.save_model,
                                      overwrite=args.overwrite)
        print(f"wrote {path} with operating point {report.calibration.describe()}")
    return 0


def _calibrate_search(clf, files) -> None:  # noqa: ANN001 (a Classifier, a Plan)
    """With --confirm and --calibrate: the keyphrase search's thresholds chosen on the half of
    the negatives the detector's thresholds are chosen on (see kwspot.evaluate.confirm_rate)."""
    import sys

    from kwspot.evaluate.calibrate import split_files
    from kwspot.evaluate.confirm_rate import calibrate_search
    from kwspot.progress import progress_bar

    half, _ = split_files(files.negatives)
    print(f"kwspot: choosing the keyphrase search's thresholds on {len(half)} calibration "
          "file(s)", file=sys.stderr)
    with progress_bar(len(half), "searching") as advance:
        clf.confirmation = calibrate_search(clf.confirmation, half, on_file=advance)


def _maybe(items: list[str]) -> dict[str, list[str]]:
    from kwspot.errors import KwspotError

    out: dict[str, list[str]] = {}
    for item in items:
        path, sep, words = item.rpartition("=")
        if not sep or not path or not words.strip():
            raise KwspotError(f"--maybe-contains {item!r}: expected PATH=WORD1,WORD2")
        out.setdefault(path, []).extend(w.strip() for w in words.split(",") if w.strip())
    return out
