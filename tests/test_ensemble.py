"""`kwspot ensemble`: heads trained apart, averaged over one front-end."""

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
    tuned = Checkpoint.load(head_checkpoint(tmp_path, "tuned", 1))
    key = next(k for k in tuned.weights if k.startswith("frontend.embedding.embedding."))
    tuned.weights[key] = tuned.weights[key] + 0.01
    others = {
        "front-end weights differ": tuned,
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
