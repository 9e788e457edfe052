"""One interface over a PyTorch checkpoint (``.pt``) and an exported ``model.onnx``.

>>> clf = load_classifier("runs/seresnet3/best.pt")      # or "model.onnx"
>>> probs = clf.predict_proba(waves)                       # float32 [B, 16000] → [B, classes]

The ONNX contract (what ``kwspot export`` writes and :class:`OnnxClassifier` reads): one input
named ``audio`` of shape ``[batch, clip_samples]``, float32 in [-1, 1] (or int16 PCM when the
model was exported with an int16 input); one output named ``probs``, ``[batch, classes]``
softmax probabilities; a metadata property ``kwspot`` holding JSON with at least ``labels``,
``sample_rate`` and ``clip_samples``. This module imports torch only for ``.pt`` files, so the
ONNX path needs just numpy and onnxruntime.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from kwspot.errors import KwspotError, SettingError


class Classifier(Protocol):
    """What prediction, evaluation and streaming need from a model."""

    labels: tuple[str, ...]
    sample_rate: int
    clip_samples: int
    source: str  # the file it was loaded from

    def predict_proba(self, waves: np.ndarray) -> np.ndarray:
        """float32 waveforms ``[B, clip_samples]`` in [-1, 1] → probabilities ``[B, classes]``."""
        ...


def stream_scorer_of(classifier: Classifier):  # noqa: ANN201 (a stream scorer, or None)
    """The classifier's own stream scorer (an embedding model's, reusing the embeddings
    already computed as a stream advances), or None."""
    make = getattr(classifier, "stream_scorer", None)
    return make() if make is not None else None


def scorer_hop(scorer, hop: int) -> int:  # noqa: ANN001 (a stream scorer, or None)
    """The hop, in samples, windows are classified at: with a stream scorer, the multiple of
    its own hop nearest to ``hop``."""
    return hop if scorer is None else max(1, round(hop / scorer.hop)) * scorer.hop


def load_classifier(path: Path | str, *, device: str = "cpu",
                    threads: int | None = None) -> Classifier:
    """A :class:`Classifier` for a ``.onnx`` file or a kwspot checkpoint (or run folder)."""
    path = Path(path)
    if threads is not None and threads < 0:
        raise SettingError("threads", f"must be 0 (the runtime's default) or more, got {threads}")
    if not path.exists():
        raise KwspotError(f"{path}: no such model file")
    if path.suffix.lower() == ".onnx":
        return OnnxClassifier(path, threads=threads)
    return TorchClassifier(path, device=device, threads=threads)


class TorchClassifier:
    """A kwspot checkpoint run with PyTorch (eval mode, no grad)."""

    def __init__(self, path: Path, *, device: str = "cpu", threads: int | None = None) -> None:
        import torch

        from kwspot.checkpoint import Checkpoint
        from kwspot.devices import torch_device

        self.device = torch_device(device)
        if threads:
            torch.set_num_threads(threads)
        self.ckpt = Checkpoint.load(path)
        self.source = self.ckpt.path
        self.net = self.ckpt.build_net().to(self.device)
        self.labels = tuple(self.ckpt.labels)
        self.sample_rate = self.ckpt.sample_rate
        self.clip_samples = self.ckpt.clip_samples
        self.model_name = self.ckpt.model
        self.operating_point = self.ckpt.operating_point  # calibrated thresholds
        self.confirmation = _stored_confirmation(self.operating_point, self.source)

    def stream_scorer(self):  # noqa: ANN201 (a StepScorer, or None)
        """For an embedding model on the CPU: a scorer that reuses the embeddings already
        computed as a stream advances, running the model's streaming step in onnxruntime
        (see :mod:`kwspot.embedding.step`); else None."""
        if self.net.frontend.cfg.kind != "embedding" or self.device.type != "cpu":
            return None
        return _torch_step_graph(self).scorer()

    def predict_proba(self, waves: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(waves, dtype=np.float32)).to(self.device)
            return torch.softmax(self.net(x).float(), dim=1).cpu().numpy()


class OnnxClassifier:
    """An exported ``model.onnx`` run with onnxruntime on the CPU."""

    def __init__(self, path: Path, *, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise KwspotError("onnxruntime is not installed: pip install onnxruntime") from None
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), opts,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise KwspotError(f"{path}: not a valid ONNX model ({first[:160]})") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if "kwspot" not in meta:
            raise KwspotError(f"{path}: ONNX model has no kwspot metadata (not made by "
                              "`kwspot export`)")
        self.meta: dict[str, Any] = json.loads(meta["kwspot"])
        self.source = str(path)
        self.labels = tuple(self.meta["labels"])
        self.sample_rate = int(self.meta["sample_rate"])
        self.clip_samples = int(self.meta["clip_samples"])
        self.model_name = self.meta.get("model", path.stem)
        self.operating_point = self.meta.get("operating_point")  # calibrated thresholds
        self.confirmation = _stored_confirmation(self.operating_point, self.source)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.int16_input = inp.type == "tensor(int16)"
        self._step_graph = None  # the streaming step, loaded on first use

    def stream_scorer(self):  # noqa: ANN201 (a StepScorer, or None)
        """For a model exported with a streaming step (an embedding model): a scorer that
        reuses the embeddings already computed as a stream advances; else None."""
        from kwspot.embedding.onnx_stream import META_KEY, StepGraph

        if self._step_graph is None:
            meta = self.session.get_modelmeta().custom_metadata_map
            if META_KEY not in meta:
                return None
            try:
                self._step_graph = StepGraph(base64.b64decode(meta[META_KEY]))
            except Exception as exc:  # a damaged or foreign step graph  # noqa: BLE001
                raise KwspotError(f"{self.source}: its streaming step ({META_KEY}) cannot be "
                                  f"loaded ({str(exc).strip()[:160]})") from None
        return self._step_graph.scorer()

    def predict_proba(self, waves: np.ndarray) -> np.ndarray:
        x = np.asarray(waves, dtype=np.float32)
        if self.int16_input:
            x = np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)
        return self.session.run(["probs"], {self.input_name: x})[0]


def _stored_confirmation(op: dict | None, where: str):  # noqa: ANN202 (a Confirmation or None)
    """The phonetic confirmation a model's stored operating point runs with (callers may
    replace it: see :mod:`kwspot.infer.confirm`)."""
    from kwspot.infer.confirm import Confirmation

    stored = op.get("confirm") if isinstance(op, dict) else None
    return Confirmation.from_dict(stored, where) if stored is not None else None


_STEP_GRAPHS: dict[tuple[str, int, int], Any] = {}  # checkpoint file → its StepGraph


def _torch_step_graph(clf: TorchClassifier):  # noqa: ANN202 (a StepGraph)
    """The streaming step of a checkpoint's embedding model, exported to ONNX in memory once
    per process and checkpoint file."""
    from kwspot.embedding.onnx_stream import StepGraph
    from kwspot.embedding.step import step_onnx

    stat = Path(clf.source).stat()
    key = (str(Path(clf.source).resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _STEP_GRAPHS:
        frontend = clf.net.frontend.embedding
        _STEP_GRAPHS[key] = StepGraph(step_onnx(frontend, clf.net.classifier, clf.clip_samples))
    return _STEP_GRAPHS[key]
