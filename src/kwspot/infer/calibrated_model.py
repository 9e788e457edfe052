"""Writing a model with an operating point inside: a copy of the checkpoint or ONNX file whose
``operating_point`` field (checkpoint) or ``kwspot`` metadata (ONNX) holds the calibration."""

from __future__ import annotations

import json
import os
from pathlib import Path

from kwspot.errors import KwspotError
from kwspot.infer.operating_point import OperatingPoint


def write_calibrated_model(model: Path | str, op: OperatingPoint, out: Path | str, *,
                           overwrite: bool = False) -> Path:
    """Copy ``model`` (``.pt`` checkpoint, run folder or ``.onnx``) to ``out`` with ``op``
    stored in it. An existing ``out`` is replaced only when ``overwrite`` is true."""
    model, out = Path(model), Path(out)
    if out.exists() and not overwrite:
        raise KwspotError(f"{out}: already exists (choose another name or allow overwriting)")
    is_onnx = model.suffix.lower() == ".onnx"
    if is_onnx != (out.suffix.lower() == ".onnx"):
        raise KwspotError(f"{out}: must be a {'.onnx' if is_onnx else '.pt'} file like {model}")
    if is_onnx:
        _write_onnx(model, op, out)
    else:
        _write_checkpoint(model, op, out)
    return out


def _write_checkpoint(model: Path, op: OperatingPoint, out: Path) -> None:
    from dataclasses import replace

    from kwspot.checkpoint import Checkpoint

    replace(Checkpoint.load(model), operating_point=op.to_dict()).save(out)


def _write_onnx(model: Path, op: OperatingPoint, out: Path) -> None:
    try:
        import onnx
    except ImportError:
        raise KwspotError("onnx is not installed: pip install onnx") from None
    try:
        proto = onnx.load(str(model))
    except Exception as exc:  # onnx raises its own and protobuf's exception types
        raise KwspotError(f"{model}: not a readable ONNX file ({type(exc).__name__})") from None
    props = {p.key: p.value for p in proto.metadata_props}
    if "kwspot" not in props:
        raise KwspotError(f"{model}: ONNX model has no kwspot metadata (not made by "
                          "`kwspot export`)")
    meta = json.loads(props["kwspot"])
    meta["operating_point"] = op.to_dict()
    props["kwspot"] = json.dumps(meta, default=str)
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, props)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        onnx.save(proto, str(tmp))
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
