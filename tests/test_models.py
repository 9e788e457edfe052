"""Every registered model (the list comes from the registry, so a new model is tested without
editing this file): output shape, a gradient for every parameter, batch consistency, an ONNX
round trip with dynamic axes; and MAC counts checked against hand counts."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch

from kwspot import models
from kwspot.models.profile import count_macs
from kwspot.network import frontend_for

ALL = models.list_models()
CLASSES = 12


def build(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return models.create(name, num_classes=CLASSES)


def features(name: str, batch: int, seed: int = 0) -> torch.Tensor:
    """A batch of random inputs of the shape the model's own front-end produces."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, *frontend_for(name).output_shape(), generator=g)


def test_the_registry_lists_models() -> None:
    assert len(ALL) >= 14 and ALL == sorted(ALL)


@pytest.mark.parametrize("name", ALL)
def test_output_shape(name: str) -> None:
    with torch.no_grad():
        out = build(name).eval()(features(name, 2))
    assert out.shape == (2, CLASSES) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", ALL)
def test_every_parameter_gets_a_gradient(name: str) -> None:
    model = build(name).train()
    model(features(name, 2)).logsumexp(dim=1).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"no gradient for {missing}"
    bad = [n for n, p in model.named_parameters()
           if p.grad is not None and not torch.isfinite(p.grad).all()]
    assert not bad, f"non-finite gradient for {bad}"


@pytest.mark.parametrize("name", ALL)
def test_eval_is_batch_consistent(name: str) -> None:
    model = build(name).eval()
    x = features(name, 3)
    with torch.no_grad():
        batched = model(x)
        single = torch.cat([model(x[i:i + 1]) for i in range(len(x))])
    torch.testing.assert_close(batched, single, atol=1e-4, rtol=1e-4)


def accepts_other_lengths(model: torch.nn.Module, x: torch.Tensor) -> bool:
    """Whether the model also runs on half a second more audio (global pooling)."""
    longer = torch.randn(*x.shape[:-1], x.shape[-1] + 50)
    try:
        with torch.no_grad():
            return model(longer).shape == (len(x), CLASSES)
    except (RuntimeError, ValueError):
        return False


@pytest.mark.parametrize("name", ALL)
def test_onnx_round_trip(name: str) -> None:
    """Exported with a dynamic batch axis (and time axis, for models that take any length),
    onnxruntime gives PyTorch's logits. An export failure fails the test: every registered
    model must be exportable."""
    import onnxruntime as ort

    model = build(name).eval()
    x = features(name, 2)
    dynamic = {"features": {0: "batch"}, "logits": {0: "batch"}}
    variable = accepts_other_lengths(model, x)
    if variable:
        dynamic["features"][x.dim() - 1] = "time"
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(model, (x,), buf, dynamo=False, opset_version=17,
                          input_names=["features"], output_names=["logits"],
                          dynamic_axes=dynamic)
    session = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    shapes = [(3, *x.shape[1:])]  # another batch size than the traced one
    if variable:
        shapes.append((1, *x.shape[1:-1], x.shape[-1] + 50))
    for shape in shapes:
        xi = torch.randn(*shape)
        got = session.run(None, {"features": xi.numpy()})[0]
        with torch.no_grad():
            want = model(xi).numpy()
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def test_count_macs_counts_attention_products() -> None:
    """KWT-1 by hand: 102 tokens (class token + 101 frames), dim 64, 12 blocks, MLP 256."""
    n, d, depth, mlp, mels, frames = 102, 64, 12, 256, 40, 101
    per_block = (n * d * 3 * d  # q, k, v projections
                 + n * n * d  # Q·Kᵀ
                 + n * n * d  # softmax(Q·Kᵀ)·V
                 + n * d * d  # output projection
                 + 2 * n * d * mlp)  # MLP
    by_hand = frames * mels * d + depth * per_block + d * CLASSES
    assert by_hand == 76_401_920
    assert count_macs(build("kwt1"), (1, mels, frames)) == by_hand


def test_count_macs_of_a_grouped_convolution_and_a_linear_layer() -> None:
    net = torch.nn.Sequential(torch.nn.Conv2d(4, 8, 3, padding=1, groups=2), torch.nn.Flatten(),
                              torch.nn.Linear(8 * 5 * 6, 10))
    conv = (8 * 5 * 6) * (4 // 2) * 3 * 3  # outputs × inputs per group × kernel
    assert count_macs(net, (4, 5, 6)) == conv + 8 * 5 * 6 * 10
