"""``kwspot predict``: label audio files with a model and write a Kaggle-style CSV."""

from __future__ import annotations

import argparse

from kwspot.cli.common import add_runtime_args, add_settings, settings_from
from kwspot.infer.predict_settings import PredictSettings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="label audio files; write submission.csv",
                       description="Predict the label of WAV/FLAC files (folders are searched "
                       "recursively; a Kaggle root means its test/audio folder) and write "
                       "fname,label rows. Files that cannot be read are reported and skipped "
                       "(exit code 1).")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files or folders")
    p.add_argument("--checkpoint", required=True, metavar="MODEL",
                   help="a .pt checkpoint, a run folder or a .onnx file")
    p.add_argument("--out", default="submission.csv", help="CSV to write (submission.csv)")
    add_settings(p, PredictSettings)
    add_runtime_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from kwspot.infer.backend import load_classifier
    from kwspot.infer.predict import Skipped, csv_names, find_audio_files, predict_files, write_csv

    settings = settings_from(args, PredictSettings)
    files = find_audio_files(args.inputs)
    clf = load_classifier(args.checkpoint, device=args.device, threads=args.threads)

    def report(s: Skipped) -> None:
        print(f"kwspot: skipped {s.problem}", file=sys.stderr, flush=True)

    preds = predict_files(clf, files, batch_size=settings.batch_size,
                          resample=settings.resample, workers=settings.workers,
                          tta=settings.tta, on_skip=report)
    names = csv_names(files)
    if names[0] != files[0].name:
        print("kwspot: note: file names repeat across folders; the fname column holds paths "
              "relative to the folder that holds them all", file=sys.stderr)
    out = write_csv(args.out, names, preds, probs=settings.probs)
    done = int(preds.ok.sum())
    counts = ", ".join(f"{k} {v:,}" for k, v in preds.counts().items())
    print(f"kwspot: {done:,} of {len(files):,} files predicted in {preds.seconds:.2f} s "
          f"({preds.files_per_s:,.0f} files/s) -> {out}")
    print(f"labels: {counts}")
    if preds.skipped:
        print(f"kwspot: skipped {len(preds.skipped):,} file(s) that could not be read "
              "(listed above); the CSV holds the others", file=sys.stderr)
        return 1
    return 0
