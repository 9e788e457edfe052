"""``kwspot detect``: find command words in a long recording with the streaming detector."""

from __future__ import annotations

import argparse

from kwspot.cli.common import add_settings, given


def add_detector_args(p: argparse.ArgumentParser) -> None:
    """Options of :class:`kwspot.infer.detector.DetectorConfig` (shared with ``listen``)."""
    from kwspot.infer.detector import DetectorConfig

    p.add_argument("--model", "--checkpoint", dest="model", required=True, metavar="MODEL",
                   help="a .pt checkpoint, a run folder or a .onnx file")
    g = p.add_argument_group("detection")
    add_settings(g, DetectorConfig, "detection")
    g.add_argument("--confirm", action=argparse.BooleanOptionalAction, default=None,
                   help="confirm each detection with PocketSphinx keyphrase spotting of the "
                   "word, a phonetic recognizer trained on real speech (models on the speech "
                   "embedding; default: as the model's calibrated operating point says)")
    g.add_argument("--threads", type=int, default=1,
                   help="CPU threads for the model (1: streaming batches are small, and one "
                   "thread is faster on a busy CPU)")


def detector_config(args: argparse.Namespace, classifier: object = None):  # -> DetectorConfig
    """The detector settings: the model's calibrated operating point (when it has one), with
    the settings given on the command line over it (a given --threshold or --thresholds
    replaces all calibrated thresholds). --no-confirm turns the model's phonetic confirmation
    off; --confirm turns it on with default search thresholds where the model has none (a
    model's own, calibrated ones are kept)."""
    from kwspot.infer.detector import NON_COMMANDS, DetectorConfig
    from kwspot.infer.operating_point import model_operating_point
    from kwspot.infer.thresholds import parse_thresholds

    opts = given(args, ["hop_ms", "smooth_ms", "threshold", "refractory_ms", "words"])
    if args.thresholds:
        opts["thresholds"] = parse_thresholds(args.thresholds)
    op = model_operating_point(classifier) if classifier is not None else None
    if op is None:
        config = DetectorConfig(**opts)
    else:
        if "threshold" in opts or "thresholds" in opts:
            opts.setdefault("thresholds", {})
        config = op.detector_config(**opts)
    if classifier is not None and args.confirm is not None:
        from kwspot.infer.confirm import Confirmation

        if not args.confirm:
            classifier.confirmation = None
        elif getattr(classifier, "confirmation", None) is None:
            words = config.words or [w for w in classifier.labels if w not in NON_COMMANDS]
            classifier.confirmation = Confirmation.for_words(words)
    return config


def describe_operating_point(args: argparse.Namespace, classifier: object, config) -> str:
    """One line saying which operating point detection runs at, and where it comes from."""
    from kwspot.infer.operating_point import model_operating_point

    op = model_operating_point(classifier)
    given = args.threshold is not None or args.thresholds
    conf = getattr(classifier, "confirmation", None)
    if op is not None and not given:
        line = f"operating point: the model's, {op.describe()}"
        if conf != op.confirmation():  # --confirm or --no-confirm changed it
            line += "; but " + ("not confirmed phonetically" if conf is None else
                                conf.describe()) + " (as asked)"
        return line
    per_word = ",".join(f"{w}={v:g}" for w, v in config.thresholds.items())
    source = "given" if given else "default (the model is not calibrated: see kwspot score)"
    return (f"operating point: {source}, threshold {config.threshold:g}"
            + (f", {per_word}" if per_word else "") + f"; smoothing {config.smooth_ms:g} ms"
            + (f"; {conf.describe()}" if conf is not None else ""))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="find command words in a long recording",
                       description="Stream an audio file of any length through the detector: "
                       "a 1-s window classified every hop, posteriors smoothed, per-word "
                       "thresholds and a refractory period. Prints one line per detection: "
                       "time_s word confidence.")
    p.add_argument("audio", metavar="AUDIO", help="WAV/FLAC file (other rates are resampled)")
    add_detector_args(p)
    p.add_argument("--csv", default=None, metavar="FILE",
                   help="also write the detections as CSV (time_s,word,confidence,decided_s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from kwspot.infer.backend import load_classifier
    from kwspot.infer.detections_csv import write_detections_csv
    from kwspot.infer.filedetect import detect_file
    from kwspot.outputs import output_path
    from kwspot.progress import Bar

    if args.csv:
        output_path(args.csv)  # refuse an unwritable path before the (long) detection run
    clf = load_classifier(args.model, threads=args.threads)
    config = detector_config(args, clf)
    announced: list[bool] = []

    def announce() -> None:  # once the audio is readable: a bad file still gets one line
        if not announced:
            announced.append(True)
            print(f"kwspot: {describe_operating_point(args, clf, config)}", file=sys.stderr,
                  flush=True)

    def show(d) -> None:
        announce()
        print(d.line(), flush=True)

    def note(msg: str) -> None:
        announce()
        print(f"kwspot: note: {msg}", file=sys.stderr, flush=True)

    bar = Bar()

    def progress(done_s: float, total_s: float) -> None:
        announce()
        bar.update(round(done_s), round(total_s), f"detect {args.audio} (seconds)")

    try:
        result = detect_file(clf, args.audio, config, on_detection=show, on_note=note,
                             on_progress=progress)
    finally:
        bar.close()
    if args.csv:
        write_detections_csv(args.csv, result.detections)
    print(f"kwspot: {len(result.detections)} detection(s) in {result.audio_s:.1f} s of audio; "
          f"{result.elapsed_s:.2f} s (real-time factor {result.rtf:.3f})", file=sys.stderr)
    return 0

