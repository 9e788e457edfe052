"""``kwspot synth``: a Speech-Commands-style data set spoken by eSpeak NG, made offline."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from kwspot.data.synth.generate import DEFAULT_UNKNOWN_WORDS, DEFAULT_WORDS

    p = sub.add_parser(
        "synth",
        help="synthesize a Speech-Commands-style data set with eSpeak NG voices",
        description="Write OUT/<word>/<speaker>_nohash_<k>.wav (1 s, 16 kHz, int16), "
        "OUT/_background_noise_/, meta.csv and speaker-disjoint validation_list.txt / "
        "testing_list.txt. The same --seed gives byte-identical files for any --workers; "
        "a folder that already holds a set made with the same options is left as it is.",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (new or empty, "
                   "or one written by kwspot synth before)")
    p.add_argument("--words", default=",".join(DEFAULT_WORDS), metavar="W1,W2,...",
                   help="keywords (default: %(default)s)")
    p.add_argument("--unknown-words", default=",".join(DEFAULT_UNKNOWN_WORDS),
                   metavar="W1,W2,...", help="other words, for an 'unknown' class; '' for "
                   "none (default: %(default)s)")
    p.add_argument("--per-word", type=int, default=200, metavar="N",
                   help="clips per word (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--workers", type=int, default=None, metavar="K",
                   help="worker processes (default: one per CPU)")
    p.add_argument("--speakers", type=int, default=None, metavar="N",
                   help="number of synthetic speakers (default: max(10, per-word / 2))")
    p.add_argument("--noise-seconds", type=float, default=60.0, metavar="S",
                   help="length of each background-noise file (default: %(default)s)")
    p.add_argument("--force", action="store_true",
                   help="regenerate even if OUT already holds this set")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kwspot.data.synth import synthesize

    report = synthesize(
        args.out, words=args.words.split(","), unknown_words=args.unknown_words.split(","),
        per_word=args.per_word, seed=args.seed, workers=args.workers, speakers=args.speakers,
        noise_seconds=args.noise_seconds, force=args.force,
    )
    split = report.clips_per_split
    counts = (f"{report.clips} clips ({split['training']} training / {split['validation']} "
              f"validation / {split['testing']} testing) of {len(report.words)} words + "
              f"{len(report.unknown_words)} unknown words by {report.speakers} speakers")
    if report.reused:
        print(f"{report.out_dir}: already holds {counts}; nothing to do (--force redoes it)")
    else:
        print(f"wrote {counts}, {len(report.noise_files)} noise files to {report.out_dir} "
              f"in {report.elapsed_s:.1f} s")
    return 0
