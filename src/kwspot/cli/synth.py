"""``kwspot synth``: a Speech-Commands-style data set spoken by eSpeak NG, made offline."""

from __future__ import annotations

import argparse

from kwspot.cli.common import add_settings, settings_from


def register(sub: argparse._SubParsersAction) -> None:
    from kwspot.data.synth_settings import SynthSettings

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
    add_settings(p, SynthSettings)
    g = p.add_argument_group("making speech sound recorded (shares of clips, 0-1)")
    add_settings(g, SynthSettings, "recorded")
    p.set_defaults(func=run)


def perturbations(args: argparse.Namespace):
    """The :class:`~kwspot.data.perturb.Perturbations` the options ask for."""
    from kwspot.data.synth_settings import SynthSettings

    return settings_from(args, SynthSettings).perturbations()


def run(args: argparse.Namespace) -> int:
    from kwspot.data.synth import synthesize
    from kwspot.data.synth_settings import SynthSettings

    s = settings_from(args, SynthSettings)
    confusables: list[str] = []
    if s.negatives_for:
        from kwspot.data.synth.confusable import confusable_phrases

        for phrase in s.negatives_for:
            confusables += [c for c in confusable_phrases(phrase, s.negatives)
                            if c not in confusables]
    report = synthesize(
        args.out, words=s.words, unknown_words=s.unknown_words, per_word=s.per_word,
        seed=s.seed, workers=s.workers, speakers=s.speakers, noise_seconds=s.noise_seconds,
        force=s.force, perturb=s.perturbations(), tract_spread=s.tract_spread,
        rate_spread=s.rate_spread, clip_seconds=s.clip_seconds, confusables=confusables,
        neural_voices=s.neural_voices, neural_share=s.neural_share,
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
