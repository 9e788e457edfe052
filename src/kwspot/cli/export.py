"""``kwspot export``: write a checkpoint as an ONNX file that takes raw audio."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a checkpoint to ONNX (front-end included)",
                       description="Export a model to ONNX: input `audio` [batch, 16000] raw "
                       "16 kHz audio, output `probs` [batch, classes]; the front-end is part of "
                       "the graph and a `kwspot` metadata property describes labels and "
                       "front-end, so `kwspot predict/evaluate/detect` accept the file. An "
                       "embedding model's file also carries its 80-ms streaming step (metadata "
                       "property `kwspot_stream`), which detect/listen/score run.")
    p.add_argument("--checkpoint", required=True, metavar="CKPT",
                   help="a .pt checkpoint or a run folder (its best.pt)")
    p.add_argument("--out", required=True, metavar="FILE", help="ONNX file to write")
    p.add_argument("--quantize", choices=["int8"], default=None,
                   help="int8 classifier (the front-end stays float): static quantization "
                   "calibrated on --calibrate clips, else on the checkpoint's training data "
                   "when it is on this machine, else dynamic (weights only; slow for "
                   "convolutions)")
    p.add_argument("--calibrate", default=None, metavar="DIR",
                   help="folder of audio clips (searched recursively) to calibrate int8 "
                   "activations on")
    p.add_argument("--calibrate-clips", type=int, default=256,
                   help="clips drawn from --calibrate (256)")
    p.add_argument("--input", dest="input_dtype", choices=["float", "int16"], default="float",
                   help="input type: float32 in [-1, 1] (default) or int16 PCM")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (17)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from kwspot.errors import KwspotError
    from kwspot.infer.export import (
        AGREEMENT_PROBES,
        calibration_clips,
        export_checkpoint,
        training_clips,
    )

    if args.calibrate and not args.quantize:
        raise KwspotError("--calibrate only applies with --quantize int8")
    calib, source = None, ""
    if args.calibrate:
        calib, source = calibration_clips(args.calibrate, args.calibrate_clips), args.calibrate
    elif args.quantize:
        calib, source = training_clips(args.checkpoint, args.calibrate_clips), "training data"
        if calib is None:
            print("kwspot: note: the checkpoint's training data is not here: dynamic int8 "
                  "quantization (give --calibrate DIR for static, faster int8)", file=sys.stderr)
    result = export_checkpoint(args.checkpoint, args.out, quantize=args.quantize,
                               input_dtype=args.input_dtype, opset=args.opset,
                               calibration=calib)
    m = result.metadata
    kind = "float32"
    if args.quantize:
        kind = (f"int8 (static, calibrated on {len(calib)} clips of {source})"
                if calib is not None else "int8 (dynamic)")
    print(f"kwspot: wrote {result.path} ({result.size_bytes / 1e6:.2f} MB, {m['model']}, "
          f"{kind}, {args.input_dtype} input, opset {args.opset}); "
          f"onnxruntime vs PyTorch max |Δp| = {result.max_prob_diff:.2e} on "
          f"{AGREEMENT_PROBES} test signals")
    return 0
