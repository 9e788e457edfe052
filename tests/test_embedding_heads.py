"""Heads over the speech embedding: shapes, gradients, batch consistency, ONNX round trip."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from kwspot import models
from kwspot.features import FrontendConfig

HEADS = models.list_models("emb_*")


def test_heads_are_registered_on_the_embedding_frontend() -> None:
    assert set(HEADS) >= {"emb_mlp", "emb_conv", "emb_gru"}
    for name in HEADS:
        spec = models.get_spec(name)
        assert spec.frontend == "embedding" and spec.recommended["iters"] > 0


@pytest.mark.parametrize("name", HEADS)
def test_shape_any_length_and_gradients(name: str) -> None:
    torch.manual_seed(0)
    net = models.create(name, num_classes=12)
    frames = FrontendConfig(kind="embedding").output_shape()
    assert frames == (1, 96, 15)
    for e in (1, 3, 15):
        assert net(torch.randn(4, 1, 96, e)).shape == (4, 12)
    x = torch.randn(4, *frames, requires_grad=True)
    net(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in net.parameters())


@pytest.mark.parametrize("name", HEADS)
def test_eval_is_batch_consistent_and_exports(name: str) -> None:
    import onnxruntime as ort

    torch.manual_seed(0)
    net = models.create(name, num_classes=12).eval()
    x = torch.randn(5, 1, 96, 15)
    with torch.no_grad():
        full = net(x)
        one = torch.cat([net(x[i:i + 1]) for i in range(5)])
    torch.testing.assert_close(full, one, atol=1e-5, rtol=1e-5)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), buf, input_names=["x"], dynamo=False,
                          dynamic_axes={"x": {0: "batch"}})
    sess = ort.InferenceSession(buf.getvalue())
    out = sess.run(None, {"x": x.numpy()})[0]
    assert np.abs(out - full.numpy()).max() < 1e-4


@pytest.fixture(scope="module")
def small_tone_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import make_tone_dataset

    return make_tone_dataset(tmp_path_factory.mktemp("tones"), speakers=10, per_speaker=1)


def assert_onnx_predicts_like(checkpoint: Path, onnx: Path) -> None:
    """The checkpoint's ONNX export gives its probabilities on a few random clips."""
    from kwspot.infer.backend import load_classifier
    from kwspot.infer.export import export_checkpoint

    res = export_checkpoint(checkpoint, onnx)
    clips = np.random.default_rng(0).normal(0, 0.1, (3, 16000)).astype(np.float32)
    p_pt = load_classifier(checkpoint).predict_proba(clips)
    p_ox = load_classifier(res.path).predict_proba(clips)
    assert np.abs(p_pt - p_ox).max() < 1e-4


def test_frozen_embedding_trains_on_precomputed_features(small_tone_data: Path,
                                                          tmp_path: Path) -> None:
    """`train` computes the embeddings once (clean + copies), then trains the head alone;
    a second run on the same clips reads them back; the checkpoint predicts like its ONNX."""
    pytest.importorskip("pyopen_wakeword", reason="pyopen-wakeword is not installed")
    from kwspot.config import TrainConfig
    from kwspot.train import train

    base = dict(data=str(small_tone_data), words=("yes", "no", "up"), model="emb_mlp",
                iters=6, batch_size=8, log_every=3, val_pct=40, test_pct=0, device="cpu",
                feature_copies=1)
    first = train(TrainConfig.resolve({**base, "out": str(tmp_path / "a")},
                                      models.get_spec("emb_mlp").recommended))
    log = (tmp_path / "a" / "log.txt").read_text()
    assert "training clips x 2 (clean + augmented copies)" in log and "The head trained in" in log
    again = train(TrainConfig.resolve({**base, "out": str(tmp_path / "b")},
                                      models.get_spec("emb_mlp").recommended))
    assert again.best_acc == first.best_acc  # same features (read back), same seed
    assert_onnx_predicts_like(tmp_path / "a" / "best.pt", tmp_path / "m.onnx")


def test_finetuning_updates_the_embedding_at_a_smaller_rate() -> None:
    pytest.importorskip("pyopen_wakeword", reason="pyopen-wakeword is not installed")
    from kwspot.config import TrainConfig
    from kwspot.train.step import TrainStep

    cfg = TrainConfig.resolve({"model": "emb_mlp", "embedding_lr_scale": 0.1, "lr": 0.01,
                               "optimizer": "sgd", "warmup_iters": 0, "iters": 10})
    step = TrainStep.for_model(cfg, num_classes=12)
    conv = step.net.frontend.embedding.embedding.convs[0].weight
    before = conv.detach().clone()
    waves = torch.from_numpy((np.random.default_rng(0).normal(0, 0.1, (4, 16000)) * 32767)
                             .astype(np.int16))
    step.run(waves, torch.tensor([0, 1, 2, 3]), 0)
    assert not torch.equal(conv.detach(), before)
    scales = sorted(g.get("lr_scale", 1.0) for g in step.opt.param_groups)
    assert scales[0] == 0.1 and [g["lr"] for g in step.opt.param_groups
                                 if g.get("lr_scale") == 0.1] == [pytest.approx(0.001)]


@pytest.mark.parametrize("tune", [1, 7, 20])
def test_frozen_then_tuned_stage_is_the_whole_embedding(tune: int) -> None:
    """Partial fine-tuning splits the embedding at the first tuned convolution: only those
    learn, and the two stages together compute what the whole front-end does."""
    from kwspot.features import Frontend

    torch.manual_seed(0)
    fe = Frontend(FrontendConfig(kind="embedding", embedding_lr_scale=0.1,
                                 embedding_tune_layers=tune), pretrained=False)
    convs = fe.embedding.embedding.convs
    for conv in convs:  # random weights in place of openWakeWord's
        conv.reset_parameters()
    assert [c.weight.requires_grad for c in convs] == [i >= 20 - tune for i in range(20)]
    assert fe.splits_in_stages == (tune < 20)
    wave = torch.randn(3, 16000) * 0.1
    with torch.no_grad():
        staged = fe.tuned_stage(fe.frozen_stage(wave))
        torch.testing.assert_close(staged, fe(wave), atol=1e-5, rtol=1e-5)
    assert staged.shape == (3, 1, 96, 15)
    frozen = Frontend(FrontendConfig(kind="embedding"), pretrained=False)
    assert frozen.splits_in_stages and not any(p.requires_grad for p in frozen.parameters())
    with torch.no_grad():
        assert torch.equal(frozen.tuned_stage(frozen.frozen_stage(wave)), frozen(wave))


def test_tune_layers_without_finetuning_is_refused() -> None:
    from kwspot.config import TrainConfig
    from kwspot.errors import SettingError

    with pytest.raises(SettingError, match="stays frozen unless") as e:
        TrainConfig.resolve({"model": "emb_mlp", "embedding_tune_layers": 9})
    assert e.value.setting == "embedding_tune_layers"
    with pytest.raises(SettingError, match="1..20"):
        TrainConfig.resolve({"model": "emb_mlp", "embedding_lr_scale": 0.1,
                             "embedding_tune_layers": 0})
    TrainConfig.resolve({"model": "emb_mlp", "embedding_lr_scale": 0.1,
                         "embedding_tune_layers": 9})


def test_partial_finetuning_learns_only_the_last_layers_from_precomputed_stages(
        small_tone_data: Path, tmp_path: Path) -> None:
    """With ``embedding_tune_layers`` < 20 the frozen layers run once per clip (the log says
    so); the checkpoint holds the tuned layers, and its ONNX export predicts the same."""
    pytest.importorskip("pyopen_wakeword", reason="pyopen-wakeword is not installed")
    from kwspot.checkpoint import Checkpoint
    from kwspot.config import TrainConfig
    from kwspot.embedding.weights import load_weights
    from kwspot.train import train

    cfg = dict(data=str(small_tone_data), words=("yes", "no", "up"), model="emb_mlp",
               iters=6, batch_size=8, log_every=3, val_pct=40, test_pct=0, device="cpu",
               feature_copies=1, embedding_lr_scale=0.5, embedding_tune_layers=2,
               out=str(tmp_path / "run"))
    train(TrainConfig.resolve(cfg, models.get_spec("emb_mlp").recommended))
    log = (tmp_path / "run" / "log.txt").read_text()
    assert "x 2 (clean + augmented copies)" in log
    assert "The embedding's last 2 layers and the head trained in" in log
    weights = Checkpoint.load(tmp_path / "run" / "best.pt").weights
    _, pretrained = load_weights(None)
    changed = [i for i in range(20) if not torch.equal(
        weights[f"frontend.embedding.embedding.convs.{i}.weight"],
        pretrained[f"convs.{i}.weight"])]
    assert changed == [18, 19]
    assert_onnx_predicts_like(tmp_path / "run" / "best.pt", tmp_path / "m.onnx")


def test_members_make_an_ensemble_of_mean_probabilities() -> None:
    from kwspot.models.embedding_heads import HeadEnsemble

    torch.manual_seed(0)
    net = models.create("emb_conv", num_classes=3, members=3).eval()
    assert isinstance(net, HeadEnsemble) and len(net.members) == 3
    x = torch.randn(5, 1, 96, 15)
    with torch.no_grad():
        mean = torch.stack([torch.softmax(m(x), 1) for m in net.members]).mean(0)
        assert torch.allclose(torch.softmax(net(x), 1), mean, atol=1e-6)
        assert not torch.allclose(torch.softmax(net.members[0](x), 1), mean)
    assert not isinstance(models.create("emb_conv", num_classes=3, members=1), HeadEnsemble)
