"""`kwspot ensemble`: heads trained apart, averaged over the speech embedding (one copy of it
per set of embedding weights)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from kwspot.checkpoint import Checkpoint
from kwspot.cli import main
from kwspot.ensemble import combine_heads
from kwspot.features import FrontendConfig
from kwspot.network import build_net

pytestmark = pytest.mark.skipif(not importlib.util.find_spec("pyopen_wakeword"),
                                reason="pyopen-wakeword (the embedding's weights) is not "
                                "installed")
LABELS = ["yes", "no", "silence", "unknown"]
SPLIT = {"data": "/d", "val_pct": 10.0, "test_pct": 20.0, "split_offset": 0.0}


def head_checkpoint(tmp: Path, name: str, seed: int, model: str = "emb_gru",
                    **changes: object) -> Path:
    torch.manual_seed(seed)
    fe = FrontendConfig(kind="embedding")
    net = build_net(model, len(LABELS), fe)
    for m in net.classifier.modules():  # batch-norm statistics of a trained head
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    ckpt = Checkpoint(model=model, labels=list(LABELS), frontend=fe.to_dict(),
                      weights=net.state_dict(), config=dict(SPLIT), best_acc=0.9)
    for k, v in changes.items():
        setattr(ckpt, k, v)
    path = tmp / f"{name}.pt"
    ckpt.save(path)
    return path


def test_ensemble_averages_the_heads_probabilities(tmp_path: Path, capsys) -> None:
    a, b, c = (head_checkpoint(tmp_path, n, s) for n, s in (("a", 0), ("b", 1), ("c", 2)))
    assert main(["ensemble", "--checkpoint", str(a), "--checkpoint", str(b),
                 "--out", str(tmp_path / "ab.pt")]) == 0
    assert "2 heads of emb_gru" in capsys.readouterr().out
    # An ensemble is a member like any other: its heads are taken one by one.
    assert main(["ensemble", "--checkpoint", str(tmp_path / "ab.pt"), "--checkpoint", str(c),
                 "--out", str(tmp_path / "abc.pt")]) == 0
    abc = Checkpoint.load(tmp_path / "abc.pt")
    assert abc.model_kwargs == {"members": 3} and abc.operating_point is None
    wave = torch.randn(3, 16000) * 0.1
    with torch.no_grad():
        want = torch.stack([torch.softmax(Checkpoint.load(p).build_net()(wave), 1)
                            for p in (a, b, c)]).mean(0)
        got = torch.softmax(abc.build_net()(wave), 1)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    assert main(["ensemble", "--checkpoint", str(a), "--checkpoint", str(c),
                 "--out", str(tmp_path / "ab.pt")]) == 2  # never replaced unasked
    assert "exists" in capsys.readouterr().err
    assert Checkpoint.load(tmp_path / "ab.pt").model_kwargs == {"members": 2}


def test_ensemble_refuses_heads_that_cannot_be_averaged(tmp_path: Path) -> None:
    from kwspot.errors import KwspotError

    base = Checkpoint.load(head_checkpoint(tmp_path, "base", 0))
    other_mel = Checkpoint.load(head_checkpoint(tmp_path, "mel", 1))
    key = next(k for k in other_mel.weights if k.startswith("frontend.embedding.mel."))
    other_mel.weights[key] = other_mel.weights[key] + 0.01
    others = {
        "mel spectrogram": other_mel,
        "labels": Checkpoint.load(head_checkpoint(tmp_path, "l", 1,
                                                  labels=["yes", "no", "up", "unknown"])),
        "another split of the same data": Checkpoint.load(head_checkpoint(
            tmp_path, "s", 1, config={**SPLIT, "val_pct": 20.0})),
        "differs from": Checkpoint.load(head_checkpoint(tmp_path, "m", 1, model="emb_mlp")),
    }
    for why, other in others.items():
        with pytest.raises(KwspotError, match=why):
            combine_heads([base, other])
    # Heads trained on other data (e.g. synthetic speech only) join; the first's split holds.
    synthetic = Checkpoint.load(head_checkpoint(tmp_path, "syn", 1, config={"data": "/syn"}))
    assert combine_heads([base, synthetic]).config["val_pct"] == 10.0
    with pytest.raises(KwspotError, match="at least 2"):
        combine_heads([base])
    from kwspot.network import frontend_for

    scratch = Checkpoint(model="dscnn_s", labels=list(LABELS),
                         frontend=frontend_for("dscnn_s").to_dict(),
                         weights=build_net("dscnn_s", 4, frontend_for("dscnn_s")).state_dict())
    with pytest.raises(KwspotError, match="no ensemble form"):
        combine_heads([scratch, scratch])


def fine_tuned(tmp: Path, name: str, seed: int) -> Checkpoint:
    """A head checkpoint whose embedding's last layers were changed (as fine-tuning does)."""
    ckpt = Checkpoint.load(head_checkpoint(tmp, name, seed))
    for k in ckpt.weights:
        if k.startswith("frontend.embedding.embedding.convs.19."):
            ckpt.weights[k] = ckpt.weights[k] * (1.0 + 0.1 * seed)
    ckpt.save(tmp / f"{name}.pt")
    return Checkpoint.load(tmp / f"{name}.pt")


def test_fine_tuned_embeddings_join_as_copies_offline_streaming_and_onnx(tmp_path: Path) -> None:
    import numpy as np

    from kwspot.embedding.scorer import EmbeddingWindowScorer
    from kwspot.infer.backend import load_classifier
    from kwspot.infer.export import export_checkpoint

    frozen = [Checkpoint.load(head_checkpoint(tmp_path, n, s)) for n, s in (("a", 0), ("c", 2))]
    tuned = fine_tuned(tmp_path, "b", 1)
    members = [frozen[0], tuned, frozen[1]]
    ens = combine_heads(members)
    # The frozen heads share copy 0; the fine-tuned embedding is copy 1.
    assert ens.frontend["embedding_copies"] == 2
    assert ens.model_kwargs == {"members": 3, "member_embeddings": [0, 1, 0]}
    # A member that is itself such an ensemble brings its copies; equal weights are shared.
    again = combine_heads([ens, fine_tuned(tmp_path, "d", 3), tuned])
    assert again.frontend["embedding_copies"] == 3
    assert again.model_kwargs["member_embeddings"] == [0, 1, 0, 2, 1]
    ens.save(tmp_path / "ens.pt")
    net = Checkpoint.load(tmp_path / "ens.pt").build_net()
    nets = [c.build_net() for c in members]
    wave = torch.randn(3, 16000) * 0.1
    with torch.no_grad():
        want = torch.stack([torch.softmax(m(wave), 1) for m in nets]).mean(0)
        got = torch.softmax(net(wave), 1)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    # Streaming: each copy keeps its own caches; the windows are the members' mean.
    audio = (np.random.default_rng(0).standard_normal(16000 * 3) * 0.05).astype(np.float32)
    probs, ends = EmbeddingWindowScorer(net.frontend.embedding, net.classifier, 16000).push(audio)
    each = [EmbeddingWindowScorer(m.frontend.embedding, m.classifier, 16000).push(audio)[0]
            for m in nets]
    assert len(ends) > 5
    np.testing.assert_allclose(probs, np.mean(each, axis=0), atol=1e-5)
    # The exported model: the clip graph, and the step graph that detect and listen run.
    onnx = export_checkpoint(tmp_path / "ens.pt", tmp_path / "ens.onnx")
    assert onnx.max_prob_diff < 1e-4
    clf = load_classifier(onnx.path)
    np.testing.assert_allclose(clf.predict_proba(wave.numpy()), got.numpy(), atol=1e-4)
    p2, e2 = clf.stream_scorer().push(audio)
    np.testing.assert_array_equal(e2, ends)
    np.testing.assert_allclose(p2, probs, atol=1e-4)
