"""The training step and its batch sources (the seam for precomputed features)."""

from __future__ import annotations

import pytest
import torch

from kwspot.config import TrainConfig
from kwspot.train.batches import FeatureBatches, IndexSampler, WaveBatches
from kwspot.train.step import TrainStep


def _step(**kw) -> TrainStep:
    cfg = TrainConfig.resolve({"model": "dscnn_s", "lr": 0.01, "seed": 0, **kw})
    return TrainStep.for_model(cfg, num_classes=5, noise=torch.zeros(20000))


def test_feature_batches_read_one_augmentation_copy_per_epoch() -> None:
    feats = torch.arange(3 * 8, dtype=torch.float32).reshape(3, 8, 1)  # 3 copies, 8 examples
    labels = torch.arange(8) % 5
    source = FeatureBatches(feats, labels, IndexSampler(8, 4, seed=1))
    assert source.kind == "features" and source.size == 8
    for it in range(6):  # 2 batches per epoch: epochs 0, 1, 2
        x, y = source.next_batch(it)
        copy = it // 2 % 3
        assert torch.equal(x[:, 0] - 8 * copy, torch.arange(8, dtype=torch.float32)[
            source.sampler.indices(it)])
        assert torch.equal(y, labels[source.sampler.indices(it)])
    with pytest.raises(ValueError):
        FeatureBatches(feats, labels[:5], IndexSampler(5, 4, seed=1))


def test_step_on_features_skips_augmentation_and_front_end(monkeypatch) -> None:
    step = _step()
    waves = (torch.randn(4, 16000) * 3000).to(torch.int16)
    labels = torch.tensor([0, 1, 2, 3])
    feats = step.features(waves)
    before = [p.detach().clone() for p in step.net.classifier.parameters()]

    def no_front_end(*a, **k):
        raise AssertionError("the front-end ran on precomputed features")

    monkeypatch.setattr(step.net.frontend, "forward", no_front_end)
    monkeypatch.setattr(step.augment, "forward", no_front_end)
    result = step.run(feats, labels, 0, kind="features")
    assert torch.isfinite(result.loss) and result.logits.shape == (4, 5)
    after = list(step.net.classifier.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_step_is_reproducible_from_the_iteration() -> None:
    waves = (torch.randn(8, 16000) * 3000).to(torch.int16)
    labels = torch.arange(8) % 5
    source = WaveBatches(waves, labels, IndexSampler(8, 4, seed=0))
    losses = []
    for _ in range(2):
        step = _step(mixup=0.2, spec_time_masks=1, spec_freq_masks=1, ema=0.9)
        losses.append([step.run(*source.next_batch(it), it).loss.item() for it in range(3)])
    assert losses[0] == losses[1]
