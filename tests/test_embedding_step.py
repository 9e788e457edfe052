"""The embedding models' fixed-shape streaming step in onnxruntime, against the PyTorch window
scorer, the offline model, and through export and the classifiers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from kwspot.data.audio import read_clip
from kwspot.data.labels import LabelSet

pytest.importorskip("pyopen_wakeword", reason="pyopen-wakeword is not installed")

from kwspot.embedding.onnx_stream import StepGraph  # noqa: E402
from kwspot.embedding.scorer import EmbeddingWindowScorer  # noqa: E402
from kwspot.embedding.step import EmbeddingStep, step_onnx  # noqa: E402
from kwspot.features import FrontendConfig  # noqa: E402
from kwspot.network import KwsNet, build_net  # noqa: E402

LABELS = LabelSet().names
TOL = 1e-4  # max |Δ probability|
PIECES = (700, 1280, 3000, 17, 5000, 1279, 16000)  # push sizes, cycled


def make_net(model: str) -> KwsNet:
    """A head with random weights (and non-trivial batch-norm statistics) on the embedding."""
    torch.manual_seed(0)
    net = build_net(model, len(LABELS), FrontendConfig(kind="embedding"))
    for m in net.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 2.0)
    return net.eval()


@pytest.fixture(scope="module")
def speech(shared_data: Path) -> np.ndarray:
    """Six seconds of real speech: clips of six words and speakers, back to back."""
    root = shared_data / "sc_v2_test_part"
    words = ("yes", "down", "_unknown_", "go", "left", "stop")
    files = [sorted((root / w).glob("*.wav"))[3] for w in words]
    return np.concatenate([read_clip(f) for f in files]).astype(np.float32) / 32768.0


def pushed(scorer, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """All windows a scorer gives for ``audio`` fed in pieces of assorted sizes."""
    probs, ends, i, k = [], [], 0, 0
    while i < len(audio):
        p, e = scorer.push(audio[i:i + PIECES[k % len(PIECES)]])
        i, k = i + PIECES[k % len(PIECES)], k + 1
        if len(e):
            probs.append(p)
            ends.append(e)
    return np.concatenate(probs), np.concatenate(ends)


@pytest.mark.parametrize("model", ["emb_mlp", "emb_conv", "emb_gru"])
def test_onnx_step_equals_the_pytorch_scorer(model: str, speech: np.ndarray) -> None:
    net = make_net(model)
    fe = net.frontend.embedding
    ref = EmbeddingWindowScorer(fe, net.classifier, 16000)
    want, want_ends = ref.push(speech)
    scorer = StepGraph(step_onnx(fe, net.classifier, 16000)).scorer()
    assert (scorer.hop, scorer.lag) == (ref.hop, ref.lag)
    got, ends = pushed(scorer, speech)
    np.testing.assert_array_equal(ends, want_ends)
    assert len(ends) == (len(speech) - 352) // 1280 - 23 and np.abs(got - want).max() <= TOL
    scorer.reset()  # a new stream starts from scratch
    again, _ = pushed(scorer, speech)
    np.testing.assert_allclose(again, got, atol=1e-6)


def test_first_window_is_the_offline_padded_clip(speech: np.ndarray) -> None:
    """Streamed after the padding's worth of silence, a clip's first window is what the model
    computes on the clip offline; the state has the shapes the graph declares."""
    net = make_net("emb_conv")
    fe = net.frontend.embedding
    step = EmbeddingStep(fe, net.classifier, 16000)
    shapes = step.state_shapes()
    assert shapes["history"] == (1, 1, 96, fe.num_frames(16000) - 1)
    assert all(shapes[t.name][2] in (1, 2) for t in step.tails)
    graph = StepGraph(step_onnx(fe, net.classifier, 16000))
    assert {i.name: tuple(i.shape) for i in graph.session.get_inputs()[1:]} == shapes
    clip = speech[:16000]
    scorer = graph.scorer()
    probs, ends = scorer.push(np.concatenate([np.zeros(fe.pad), clip, np.zeros(scorer.lag)]))
    assert ends[0] == fe.pad + 16000 and len(ends) == 1
    with torch.no_grad():
        want = torch.softmax(net(torch.from_numpy(clip[None])), 1).numpy()
    assert np.abs(probs[0] - want[0]).max() <= TOL


def test_exported_model_streams_with_its_step(speech: np.ndarray, tmp_path: Path) -> None:
    """`export` puts the step in model.onnx; both classifiers stream with it; a model on
    another front-end has no step and no stream scorer."""
    from kwspot.checkpoint import Checkpoint
    from kwspot.infer.backend import load_classifier
    from kwspot.infer.export import export_net, streaming_step
    from kwspot.network import frontend_for

    net = make_net("emb_mlp")
    ref = EmbeddingWindowScorer(net.frontend.embedding, net.classifier, 16000)
    want, want_ends = ref.push(speech)
    path = export_net(net, LABELS, tmp_path / "model.onnx", model_name="emb_mlp").path
    Checkpoint(model="emb_mlp", labels=list(LABELS), frontend=net.frontend.cfg.to_dict(),
               weights=net.state_dict()).save(tmp_path / "best.pt")
    for clf in (load_classifier(path), load_classifier(tmp_path / "best.pt")):
        got, ends = pushed(clf.stream_scorer(), speech)
        np.testing.assert_array_equal(ends, want_ends)
        assert np.abs(got - want).max() <= TOL
    pt = load_classifier(tmp_path / "best.pt")
    assert pt.stream_scorer().graph is clf.stream_scorer().graph  # built once per process
    assert streaming_step(build_net("bcresnet1", 12, frontend_for("bcresnet1")), 16000, 17) == {}
    # The exported model streams where torch is not installed.
    np.save(tmp_path / "speech.npy", speech)
    np.save(tmp_path / "want.npy", want)
    code = ("import sys, numpy as np\n"
            "from kwspot.infer.backend import load_classifier\n"
            "scorer = load_classifier('model.onnx').stream_scorer()\n"
            "probs, ends = scorer.push(np.load('speech.npy'))\n"
            "assert 'torch' not in sys.modules\n"
            "print(len(ends), float(np.abs(probs - np.load('want.npy')).max()))\n")
    r = without_torch(tmp_path, code)
    assert r.returncode == 0, r.stderr
    count, diff = r.stdout.split()
    assert int(count) == len(want_ends) and float(diff) <= TOL


def without_torch(folder: Path, code: str) -> subprocess.CompletedProcess[str]:
    """``python -c code`` in ``folder`` with ``import torch`` failing."""
    from test_infer_without_torch import BLOCKER

    (folder / "block").mkdir()
    (folder / "block" / "sitecustomize.py").write_text(BLOCKER)
    path = os.pathsep.join([str(folder / "block"), os.environ.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": path}, cwd=folder, timeout=120)
