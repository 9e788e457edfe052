"""ONNX export: front-end inside the graph, agreement with PyTorch, metadata, int8, errors."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from kwspot.checkpoint import Checkpoint
from kwspot.data.labels import LabelSet
from kwspot.errors import KwspotError
from kwspot.infer.backend import load_classifier
from kwspot.infer.export import export_checkpoint, export_net, training_clips
from kwspot.network import KwsNet, build_net, frontend_for

LABELS = LabelSet().names
# (model, model kwargs, front-end overrides): one per front-end kind, plus other parameters
# (dscnn: 10 MFCCs, 40-ms windows, 20-ms hop) and per-band normalisation.
CASES = {
    "raw": ("simple1dnet", {"channels": (4, 8, 8)}, {}),
    "mel": ("bcresnet1", {}, {}),
    "mfcc": ("vggnet1", {}, {}),
    "mfcc-dscnn": ("dscnn_s", {}, {}),
    "mel-normalized": ("bcresnet1", {}, {"normalize": True}),
}
if importlib.util.find_spec("pyopen_wakeword"):  # the pretrained embedding's model files
    CASES["embedding"] = ("emb_gru", {}, {})


def make_net(case: str) -> KwsNet:
    model, kwargs, fe_over = CASES[case]
    torch.manual_seed(0)
    fe = frontend_for(model, **fe_over)
    net = build_net(model, len(LABELS), fe, kwargs)
    if fe.normalize:
        net.frontend.norm_mean.uniform_(-8, -2)
        net.frontend.norm_std.uniform_(1, 3)
    # Non-trivial batch-norm statistics, so eval-mode folding is exercised.
    for m in net.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 2.0)
    return net.eval()


def save_checkpoint(net: KwsNet, case: str, path: Path) -> Path:
    model, kwargs, _ = CASES[case]
    Checkpoint(model=model, labels=list(LABELS), frontend=net.frontend.cfg.to_dict(),
               weights=net.state_dict(), model_kwargs=kwargs, iteration=7, best_acc=0.5,
               config={"data": "/data/sc", "val_pct": 5.0}).save(path)
    return path


@pytest.fixture(scope="module")
def clips() -> np.ndarray:
    """Real clips (two per class) when the shared data is there, else noise and tones."""
    from conftest import shared_data_dir

    from kwspot.data.audio import read_clip

    root = shared_data_dir() / "sc_v2_test_part"
    if root.is_dir():
        files = [f for d in sorted(root.iterdir()) if d.is_dir()
                 for f in sorted(d.iterdir())[:2]]
        return np.stack([read_clip(f) for f in files]).astype(np.float32) / 32768.0
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    tones = [0.3 * np.sin(2 * np.pi * f * t) for f in (200, 700, 2500)]
    return np.concatenate([rng.normal(0, 0.05, (5, 16000)), tones]).astype(np.float32)


@pytest.mark.parametrize("case", list(CASES))
def test_round_trip_agrees_with_pytorch(case: str, clips: np.ndarray, tmp_path: Path) -> None:
    net = make_net(case)
    ckpt = save_checkpoint(net, case, tmp_path / "m.pt")
    res = export_checkpoint(ckpt, tmp_path / "m.onnx")
    assert res.max_prob_diff is not None and res.max_prob_diff < 1e-3  # checked on export
    onnx.checker.check_model(onnx.load(str(res.path)), full_check=True)
    pt, ox = load_classifier(ckpt), load_classifier(res.path)
    p_pt, p_ox = pt.predict_proba(clips), ox.predict_proba(clips)
    assert p_ox.shape == (len(clips), len(LABELS))
    np.testing.assert_allclose(p_ox.sum(1), 1.0, atol=1e-5)
    assert np.abs(p_ox - p_pt).max() < 1e-3
    assert (p_ox.argmax(1) == p_pt.argmax(1)).all()
    # Dynamic batch axis: one clip at a time gives the same numbers.
    np.testing.assert_allclose(ox.predict_proba(clips[:1]), p_ox[:1], atol=1e-5)
    # Only an embedding model carries a streaming step (tests/test_embedding_step.py).
    assert (ox.stream_scorer() is None) == (case != "embedding")


def test_metadata_and_int16_input(clips: np.ndarray, tmp_path: Path) -> None:
    net = make_net("mfcc")
    ckpt = save_checkpoint(net, "mfcc", tmp_path / "best.pt")
    res = export_checkpoint(tmp_path, tmp_path / "int16.onnx", input_dtype="int16")
    model = onnx.load(str(res.path))
    meta = json.loads({p.key: p.value for p in model.metadata_props}["kwspot"])
    assert meta["labels"] == list(LABELS)
    assert (meta["sample_rate"], meta["clip_samples"], meta["model"]) == (16000, 16000, "vggnet1")
    assert meta["frontend"] == net.frontend.cfg.to_dict()
    assert meta["input"] == "int16" and meta["kwspot_version"]
    assert (meta["checkpoint"], meta["iteration"]) == ("best.pt", 7)
    assert meta["config"] == {"data": "/data/sc", "val_pct": 5.0}  # for evaluate's defaults
    (inp,), (outp,) = model.graph.input, model.graph.output
    assert (inp.name, outp.name) == ("audio", "probs")
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.INT16
    assert inp.type.tensor_type.shape.dim[0].dim_param == "batch"
    ox = load_classifier(res.path)
    assert ox.int16_input and ox.labels == LABELS and ox.model_name == "vggnet1"
    pcm = np.round(clips * 32768) / 32768  # what int16 PCM can represent
    np.testing.assert_allclose(ox.predict_proba(pcm), load_classifier(ckpt).predict_proba(pcm),
                               atol=1e-3)


@pytest.fixture(scope="module")
def tone_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    """A vggnet1 trained for a few seconds on tone 'words', and every clip of its data."""
    from conftest import make_tone_dataset

    from kwspot.config import TrainConfig
    from kwspot.data.dataset import DataConfig, load_dataset
    from kwspot.train import train

    d = tmp_path_factory.mktemp("tones")
    root = make_tone_dataset(d / "data")
    cfg = TrainConfig.resolve(dict(data=str(root), words=("yes", "no", "up"), model="vggnet1",
                                   iters=20, batch_size=16, lr=0.05, log_every=20, val_pct=25,
                                   test_pct=0, out=str(d / "run"), device="cpu"))
    train(cfg)
    data = load_dataset(DataConfig(root=str(root), words=("yes", "no", "up"), val_pct=25,
                                   test_pct=0), verbose=False)
    waves = np.concatenate([s.waves for s in data.splits.values()]).astype(np.float32) / 32768
    labels = np.concatenate([s.labels for s in data.splits.values()])
    return d / "run" / "best.pt", waves, labels


@pytest.mark.parametrize("calibrated", [False, True])
def test_int8_costs_little_accuracy(tone_model: tuple[Path, np.ndarray, np.ndarray],
                                    tmp_path: Path, calibrated: bool) -> None:
    ckpt, waves, labels = tone_model
    calib = training_clips(ckpt, count=40) if calibrated else None
    assert calib is None or calib.shape == (40, 16000)
    res = export_checkpoint(ckpt, tmp_path / "q.onnx", quantize="int8", calibration=calib)
    model = onnx.load(str(res.path))
    ops = {n.op_type for n in model.graph.node}
    assert ops & {"QuantizeLinear", "DynamicQuantizeLinear", "ConvInteger", "MatMulInteger"}
    # The front-end stays float: its DFT convolution is not quantized.
    assert any(n.op_type == "Conv" and "frontend" in n.name for n in model.graph.node)
    acc_pt = (load_classifier(ckpt).predict_proba(waves).argmax(1) == labels).mean()
    acc_q = (load_classifier(res.path).predict_proba(waves).argmax(1) == labels).mean()
    assert acc_pt > 0.6
    assert acc_q >= acc_pt - 0.05
    assert json.loads(model.metadata_props[0].value)["quantize"] == "int8"


def test_export_errors(tmp_path: Path) -> None:
    not_ckpt = tmp_path / "model.pt"
    not_ckpt.write_bytes(b"\x00" * 100)
    with pytest.raises(KwspotError, match="not a readable checkpoint"):
        export_checkpoint(not_ckpt, tmp_path / "x.onnx")
    net = make_net("mfcc")
    with pytest.raises(KwspotError, match="opset"):
        export_net(net, LABELS, tmp_path / "x.onnx", model_name="vggnet1", opset=9)
    with pytest.raises(KwspotError, match="labels"):
        export_net(net, LABELS[:3], tmp_path / "x.onnx", model_name="vggnet1")
    with pytest.raises(KwspotError, match="int16"):
        export_net(net, LABELS, tmp_path / "x.onnx", model_name="vggnet1", input_dtype="pcm")
    assert not (tmp_path / "x.onnx").exists()


def test_export_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kwspot.cli import main

    ckpt = save_checkpoint(make_net("mel"), "mel", tmp_path / "m.pt")
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(tmp_path / "m.onnx")]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "max |Δp|" in out
    assert load_classifier(tmp_path / "m.onnx").labels == LABELS
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(tmp_path / "q.onnx"),
                 "--calibrate", str(tmp_path)]) == 2
    assert "--calibrate only applies" in capsys.readouterr().err


def test_export_never_replaces_a_file_unasked(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from kwspot.cli import main

    ckpt = save_checkpoint(make_net("mel"), "mel", tmp_path / "m.pt")
    out = tmp_path / "m.onnx"
    out.write_bytes(b"the user's own file")
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"kwspot: error: {out}: exists; give --overwrite to replace it"
    assert out.read_bytes() == b"the user's own file"
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(out), "--overwrite"]) == 0
    assert load_classifier(out).labels == LABELS
