"""``kwspot export``: write a checkpoint as an ONNX file that takes raw audio."""

from __future__ import annotations

import argparse
from pathlib import Path

from kwspot.cli.common import add_settings, settings_from
from kwspot.infer.export_settings import ExportSettings


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
    p.add_argument("--overwrite", action="store_true", help="let --out replace a file")
    add_settings(p, ExportSettings)
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

    if Path(args.out).expanduser().is_file() and not args.overwrite:
        raise KwspotError(f"{args.out}: exists; give --overwrite to replace it")
    settings = settings_from(args, ExportSettings)
    calib, source = None, ""
    if settings.calibrate:
        calib = calibration_clips(settings.calibrate, settings.calibrate_clips)
        source = settings.calibrate
    elif settings.quantize:
        calib, source = training_clips(args.checkpoint, settings.calibrate_clips), "training data"
        if calib is None:
            print("kwspot: note: the checkpoint's training data is not here: dynamic int8 "
                  "quantization (give --calibrate DIR for static, faster int8)", file=sys.stderr)
    result = export_checkpoint(args.checkpoint, args.out, quantize=settings.quantize,
                               input_dtype=settings.input_dtype, opset=settings.opset,
                               calibration=calib)
    m = result.metadata
    kind = "float32"
    if settings.quantize:
        kind = (f"int8 (static, calibrated on {len(calib)} clips of {source})"
                if calib is not None else "int8 (dynamic)")
    print(f"kwspot: wrote {result.path} ({result.size_bytes / 1e6:.2f} MB, {m['model']}, "
          f"{kind}, {settings.input_dtype} input, opset {settings.opset}); "
          f"onnxruntime vs PyTorch max |Δp| = {result.max_prob_diff:.2e} on "
          f"{AGREEMENT_PROBES} test signals")
    return 0
