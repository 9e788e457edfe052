"""Export a trained model to ONNX with its front-end inside the graph.

The exported graph takes raw audio ``audio`` ``[batch, clip_samples]`` (float32 in [-1, 1], or
int16 PCM) and returns softmax probabilities ``probs`` ``[batch, classes]``; a metadata
property ``kwspot`` (JSON) describes labels, sample rate, clip length, model and front-end
(the contract of :mod:`kwspot.infer.backend`). An embedding model's file also carries its
streaming step, a second ONNX graph (:mod:`kwspot.embedding.step`), base64-encoded in the
metadata property ``kwspot_stream``: streaming detection runs it every 80 ms instead of the
whole 1-s graph.

The front-end is :class:`kwspot.features.Frontend` itself, which exports its STFT as a
convolution. ``quantize="int8" quantizes the classifier's
weights and activations (static QDQ quantization calibrated on clips you provide, or dynamic
weight-only quantization without them); the front-end stays in float.
"""

from __future__ import annotations

import base64
import json
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from kwspot import __version__
from kwspot.errors import KwspotError, SettingError
from kwspot.infer.export_settings import INPUTS, ExportSettings
from kwspot.network import KwsNet
from kwspot.outputs import output_path, write_error

QUANTIZE = (None, "int8")
CLASSIFIER_SCOPE = "/classifier/"  # ONNX node-name prefix of the classifier (int8-quantized)


class ExportGraph(nn.Module):
    """What the ONNX file computes: audio → front-end → classifier → softmax."""

    def __init__(self, net: KwsNet, input_dtype: str = "float") -> None:
        super().__init__()
        if input_dtype not in INPUTS:
            raise SettingError("input_dtype", f"must be float or int16, got {input_dtype!r}")
        self.int16_input = input_dtype == "int16"
        self.frontend = net.frontend  # exports its ONNX form (see kwspot.features)
        self.classifier = net.classifier

    def forward(self, audio: Tensor) -> Tensor:
        """``[B, T]`` float32 in [-1, 1] (or int16) → probabilities ``[B, classes]``."""
        x = audio.float() / 32768.0 if self.int16_input else audio
        return torch.softmax(self.classifier(self.frontend(x)), dim=1)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    metadata: dict[str, Any]
    size_bytes: int
    max_prob_diff: float | None = None  # onnxruntime vs PyTorch on AGREEMENT_PROBES signals


AGREEMENT_PROBES = 4


def agreement(net: KwsNet, onnx_path: Path | str, clip_samples: int) -> float:
    """Largest |Δ probability| between onnxruntime on ``onnx_path`` and PyTorch on ``net``
    over test signals: silence and noise at three levels."""
    import torch

    from kwspot.infer.backend import OnnxClassifier

    rng = np.random.default_rng(0)
    probe = (rng.standard_normal((AGREEMENT_PROBES, clip_samples))
             * np.array([[0.0], [0.01], [0.1], [0.3]])).astype(np.float32)
    with torch.inference_mode():
        ref = torch.softmax(net.eval()(torch.from_numpy(probe)).float(), dim=1).numpy()
    return float(np.abs(OnnxClassifier(Path(onnx_path)).predict_proba(probe) - ref).max())


def export_checkpoint(checkpoint: Path | str, out: Path | str, *,
                      quantize: str | None = ExportSettings.quantize,
                      input_dtype: str = ExportSettings.input_dtype,
                      opset: int = ExportSettings.opset,
                      calibration: np.ndarray | None = None) -> ExportResult:
    """Export a kwspot checkpoint (or run folder) to ``out`` (see :func:`export_net`) and
    check the file against PyTorch (``max_prob_diff``)."""
    from kwspot.checkpoint import Checkpoint

    ckpt = Checkpoint.load(checkpoint)
    net = ckpt.build_net()
    extra: dict[str, Any] = {"checkpoint": Path(ckpt.path).name, "iteration": ckpt.iteration,
                             "best_acc": ckpt.best_acc}
    if ckpt.config:
        extra["config"] = ckpt.config  # the training run's settings (data options included)
    if ckpt.operating_point:
        extra["operating_point"] = ckpt.operating_point
    result = export_net(net, tuple(ckpt.labels), out, model_name=ckpt.model,
                        quantize=quantize, input_dtype=input_dtype, opset=opset,
                        clip_samples=ckpt.clip_samples, calibration=calibration,
                        extra_meta=extra)
    return replace(result, max_prob_diff=agreement(net, result.path, ckpt.clip_samples))


def export_net(net: KwsNet, labels: Sequence[str], out: Path | str, *, model_name: str,
               quantize: str | None = ExportSettings.quantize,
               input_dtype: str = ExportSettings.input_dtype, opset: int = ExportSettings.opset,
               clip_samples: int = 16000, calibration: np.ndarray | None = None,
               extra_meta: dict[str, Any] | None = None) -> ExportResult:
    """Write ``net`` (front-end included) as an ONNX file with a dynamic batch axis.

    ``calibration``: float32 clips ``[N, clip_samples]`` for static int8 quantization
    (without them ``quantize="int8"`` falls back to dynamic weight quantization).
    """
    if quantize not in QUANTIZE:
        raise SettingError("quantize", f"must be int8 (or left out), got {quantize!r}")
    if not 13 <= opset <= 21:
        raise SettingError("opset", f"must be between 13 and 21, got {opset}")
    if len(labels) != _num_outputs(net, clip_samples):
        raise KwspotError(f"{model_name}: {len(labels)} labels but the model has "
                          f"{_num_outputs(net, clip_samples)} outputs")
    out = output_path(out)
    graph = ExportGraph(net.eval(), input_dtype).eval()
    dtype = torch.int16 if input_dtype == "int16" else torch.float32
    example = torch.zeros(2, clip_samples, dtype=dtype)
    meta = {
        "labels": list(labels), "sample_rate": net.frontend.cfg.sample_rate,
        "clip_samples": clip_samples, "model": model_name, "frontend": net.frontend.cfg.to_dict(),
        "input": input_dtype, "quantize": quantize, "opset": opset, "kwspot_version": __version__,
        **(extra_meta or {}),
    }
    props = {"kwspot": json.dumps(meta, default=str), **streaming_step(net, clip_samples, opset)}
    try:
        _write_onnx(graph, example, out, props, quantize=quantize, input_dtype=input_dtype,
                    opset=opset, calibration=calibration)
    except OSError as exc:  # a full disk, no permission, a folder in the way
        raise write_error(out, exc) from None
    return ExportResult(out, meta, out.stat().st_size)


def streaming_step(net: KwsNet, clip_samples: int, opset: int) -> dict[str, str]:
    """For an embedding model: its streaming step graph (:mod:`kwspot.embedding.step`), as the
    metadata property that carries it (base64 of the ONNX bytes); else nothing."""
    if net.frontend.cfg.kind != "embedding":
        return {}
    from kwspot.embedding.onnx_stream import META_KEY
    from kwspot.embedding.step import step_onnx

    step = step_onnx(net.frontend.embedding, net.classifier, clip_samples, opset)
    return {META_KEY: base64.b64encode(step).decode("ascii")}


def _write_onnx(graph: nn.Module, example: Tensor, out: Path, props: dict[str, str], *,
                quantize: str | None, input_dtype: str, opset: int,
                calibration: np.ndarray | None) -> None:
    """Trace ``graph``, quantize it if asked, attach the metadata ``props`` and check it, in a
    temporary folder beside ``out``; ``out`` appears only when all of that succeeded."""
    import onnx

    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        with torch.no_grad(), warnings.catch_warnings():
            # The TorchScript exporter is deprecated in favour of torch.export, which does not
            # yet handle every model here; its notice is not for kwspot's users.
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.filterwarnings("ignore", message="Constant folding")
            # A GRU head (emb_gru) draws a tracer warning and a batch-size caution; the graph
            # is checked against PyTorch at batch sizes 1 and more (tests/test_export.py).
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size")
            torch.onnx.export(graph, (example,), str(fp32), input_names=["audio"],
                              output_names=["probs"], opset_version=opset, dynamo=False,
                              dynamic_axes={"audio": {0: "batch"}, "probs": {0: "batch"}})
        model_path = fp32
        if quantize == "int8":
            model_path = Path(tmp) / "int8.onnx"
            _quantize_int8(fp32, model_path, calibration, input_dtype)
        model = onnx.load(str(model_path))
        del model.metadata_props[:]
        onnx.helper.set_model_props(model, props)
        model.producer_name = "kwspot"
        model.producer_version = __version__
        onnx.checker.check_model(model, full_check=True)
        tmp_out = Path(tmp) / "final.onnx"
        onnx.save(model, str(tmp_out))
        tmp_out.replace(out)


def _num_outputs(net: KwsNet, clip_samples: int) -> int:
    with torch.no_grad():
        return int(net.eval()(torch.zeros(1, clip_samples)).shape[1])


def _quantize_int8(src: Path, dst: Path, calibration: np.ndarray | None,
                   input_dtype: str) -> None:
    """int8 weights (and activations when calibrated) for the classifier; front-end in float."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = dst.with_name("pre.onnx")
    quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
    # Only the classifier is quantized: the front-end (and the final softmax) stay float.
    keep_float = [n.name for n in onnx.load(str(pre)).graph.node
                  if not n.name.startswith(CLASSIFIER_SCOPE)]
    if calibration is None:
        quantize_dynamic(str(pre), str(dst), weight_type=QuantType.QInt8,
                         nodes_to_exclude=keep_float)
        return

    clips = np.asarray(calibration, dtype=np.float32)
    if input_dtype == "int16":
        clips = np.clip(np.round(clips * 32768.0), -32768, 32767).astype(np.int16)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{"audio": clips[i:i + 32]} for i in range(0, len(clips), 32)])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    # reduce_range: 7-bit weights. x86 CPUs without VNNI (AVX2) multiply int8 pairs with an
    # instruction that saturates; with full-range weights a tone model's accuracy fell from
    # 84% to 28% on such a CPU (tests/test_export.py), and was whole with reduce_range.
    quantize_static(str(pre), str(dst), Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    per_channel=True, reduce_range=True, nodes_to_exclude=keep_float)


def calibration_clips(folder: Path | str, count: int = ExportSettings.calibrate_clips,
                      seed: int = 0) -> np.ndarray:
    """``count`` clips drawn reproducibly from the audio files under ``folder`` (float32
    ``[N, 16000]``) for static int8 calibration."""
    from kwspot.data.audio import is_audio_file, read_clip

    folder = Path(folder)
    if not folder.is_dir():
        raise SettingError("calibrate", f"{folder} is not a folder of audio clips")
    files = sorted(p for p in folder.rglob("*") if is_audio_file(p))
    if not files:
        raise KwspotError(f"{folder}: no .wav/.flac files to calibrate on")
    if count < 1:
        raise SettingError("calibrate_clips", f"must be >= 1, got {count}")
    pick = np.random.default_rng(seed).choice(len(files), size=min(count, len(files)),
                                              replace=False)
    clips = [read_clip(files[i], resample=True) for i in sorted(pick)]
    return np.stack(clips).astype(np.float32) / 32768.0


def training_clips(checkpoint: Path | str, count: int = ExportSettings.calibrate_clips,
                   seed: int = 0) -> np.ndarray | None:
    """``count`` clips of the training split the checkpoint was trained on (float32), or None
    when that dataset is not on this machine (or the checkpoint does not record it)."""
    from kwspot.checkpoint import Checkpoint
    from kwspot.data.dataset import DataConfig, load_dataset, recorded_data_settings

    settings = recorded_data_settings(Checkpoint.load(checkpoint).config)
    if not settings.get("root") or not Path(settings["root"]).is_dir():
        return None
    try:
        data = load_dataset(DataConfig(**settings), verbose=False)
    except KwspotError:
        return None
    waves = data.splits["training"].waves
    pick = np.random.default_rng(seed).choice(len(waves), size=min(count, len(waves)),
                                              replace=False)
    return waves[np.sort(pick)].astype(np.float32) / 32768.0
