"""``kwspot listen``: live detection on the microphone (needs the ``listen`` extra)."""

from __future__ import annotations

import argparse

from kwspot.cli.detect import add_detector_args, describe_operating_point, detector_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("listen", help="detect command words on the microphone",
                       description="Run the streaming detector on the default (or chosen) "
                       "audio input; one line per detection (time_s word confidence). "
                       "Stop with Ctrl+C. Needs sounddevice: pip install 'kwspot[listen]'.")
    add_detector_args(p)
    p.add_argument("--device", default=None,
                   help="input device name or index (default: the system's)")
    p.add_argument("--seconds", type=float, default=None,
                   help="stop after this many seconds (default: run until Ctrl+C)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from kwspot.infer.backend import load_classifier
    from kwspot.infer.listen import import_sounddevice, input_device, listen

    detector_config(args)  # bad settings fail fast, before the audio input and the model
    sd = import_sounddevice()
    device = int(args.device) if args.device and args.device.isdigit() else args.device
    info = input_device(sd, device)
    clf = load_classifier(args.model, threads=args.threads)
    config = detector_config(args, clf)
    print(f"kwspot: {describe_operating_point(args, clf, config)}", file=sys.stderr, flush=True)
    print(f"kwspot: listening on {info.get('name', 'the default input')} for "
          f"{', '.join(config.words or [w for w in clf.labels if w not in ('silence', 'unknown')])}"
          " (Ctrl+C to stop)", file=sys.stderr, flush=True)
    try:
        listen(clf, config, device=device, seconds=args.seconds, sd=sd,
               on_detection=lambda d: print(d.line(), flush=True),
               on_note=lambda m: print(f"kwspot: note: {m}", file=sys.stderr, flush=True))
    except KeyboardInterrupt:
        print("kwspot: stopped", file=sys.stderr)
    return 0
