"""``kwspot synth``: a Speech-Commands-style data set spoken by eSpeak NG, made offline."""

from __future__ import annotations

import argparse
import inspect
from dataclasses import replace


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
                   help="keywords or phrases, e.g. 'hey computer,ok kitchen' (a phrase's "
                   "folder and class is hey_computer; default: %(default)s)")
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
    p.add_argument("--negatives-for", default="", metavar="P1,P2",
                   help="also speak words and phrases that sound like these (e.g. 'hey "
                   "computer' -> 'hey', 'computer', 'hey commuter'), as unknown words")
    p.add_argument("--negatives", type=int, default=20, metavar="N",
                   help="sound-alikes per --negatives-for phrase (default: %(default)s)")
    p.add_argument("--clip-seconds", type=float, default=None, metavar="S",
                   help="clip length (default: 1 s, or what the longest phrase needs)")
    _perturbation_options(p)
    p.set_defaults(func=run)


def _perturbation_options(p: argparse.ArgumentParser) -> None:
    from kwspot.data.synth.generate import DEFAULT_PERTURBATIONS as D
    from kwspot.data.synth.generate import synthesize

    defaults = {k: v.default for k, v in inspect.signature(synthesize).parameters.items()}
    g = p.add_argument_group("making speech sound recorded (shares of clips, 0-1)")
    g.add_argument("--reverb", type=float, default=None, metavar="P",
                   help=f"spoken in a simulated room (default: {D.reverb})")
    g.add_argument("--device", type=float, default=None, metavar="P",
                   help=f"heard through a random device response (default: {D.device})")
    g.add_argument("--telephone", type=float, default=None, metavar="P",
                   help=f"sent through an 8-kHz telephone channel (default: {D.telephone})")
    g.add_argument("--noise-dirs", default="", metavar="DIR1,DIR2",
                   help="folders of real noise recordings to mix in (e.g. "
                   "../shared/data/esc10,../shared/data/background_noise)")
    g.add_argument("--noise", type=float, default=None, metavar="P",
                   help=f"with real noise from --noise-dirs (default: {D.noise})")
    g.add_argument("--snr-db", default=f"{D.snr_db[0]:g},{D.snr_db[1]:g}", metavar="LO,HI",
                   help="speech-to-noise ratio of real noise (default: %(default)s)")
    g.add_argument("--tract-spread", type=float, default=defaults["tract_spread"],
                   metavar="S", help="spread of speakers' vocal-tract lengths, log "
                   "(default: %(default)s)")
    g.add_argument("--rate-spread", type=float, default=defaults["rate_spread"], metavar="S",
                   help="spread of a speaker's speaking rate (tempo) between clips, log "
                   "(default: %(default)s)")
    g.add_argument("--clean", action="store_true",
                   help="no reverberation, device, telephone or real noise unless asked for "
                   "by the options above (--clean --reverb 0.5: rooms only)")


def perturbations(args: argparse.Namespace):
    """The :class:`~kwspot.data.perturb.Perturbations` the options ask for."""
    from kwspot.data.perturb import Perturbations
    from kwspot.data.synth import DEFAULT_PERTURBATIONS
    from kwspot.errors import KwspotError

    base = Perturbations() if args.clean else DEFAULT_PERTURBATIONS
    shares = {k: getattr(args, k) for k in ("reverb", "device", "telephone", "noise")
              if getattr(args, k) is not None}
    try:
        low, high = (float(v) for v in args.snr_db.split(","))
    except ValueError:
        raise KwspotError(f"--snr-db {args.snr_db!r}: expected two numbers LO,HI") from None
    dirs = tuple(d for d in args.noise_dirs.split(",") if d.strip())
    return replace(base, **shares, snr_db=(low, high), noise_dirs=dirs)


def run(args: argparse.Namespace) -> int:
    from kwspot.data.synth import synthesize

    confusables: list[str] = []
    if args.negatives_for.strip():
        from kwspot.data.synth.confusable import confusable_phrases

        for phrase in args.negatives_for.split(","):
            if phrase.strip():
                confusables += [c for c in confusable_phrases(phrase, args.negatives)
                                if c not in confusables]
    report = synthesize(
        args.out, words=args.words.split(","), unknown_words=args.unknown_words.split(","),
        per_word=args.per_word, seed=args.seed, workers=args.workers, speakers=args.speakers,
        noise_seconds=args.noise_seconds, force=args.force, perturb=perturbations(args),
        tract_spread=args.tract_spread, rate_spread=args.rate_spread,
        clip_seconds=args.clip_seconds, confusables=confusables,
    )
    split = report.clips_per_split
    counts = (f"{report.clips} clips ({split['training']} training / {split['validation']} "
              f"validation / {split['testing']} testing) of {len(report.words)} words + "
              f"{len(report.unknown_words)} unknown words"
              + (f" + {len(report.confusables)} sound-alikes" if report.confusables else "")
              + f" by {report.speakers} speakers")
    if report.reused:
        print(f"{report.out_dir}: already holds {counts}; nothing to do (--force redoes it)")
    else:
        print(f"wrote {counts}, {report.clip_seconds:g}-s clips, {len(report.noise_files)} "
              f"noise files to {report.out_dir} in {report.elapsed_s:.1f} s")
    return 0
