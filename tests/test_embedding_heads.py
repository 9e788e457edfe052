"""Heads over the speech embedding: shapes, gradients, batch consistency, ONNX round trip."""

from __future__ import annotations

import io
import warnings

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
