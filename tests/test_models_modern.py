"""Modern small KWS families: BC-ResNet, MatchboxNet, DS-CNN, KWT (sizes against the papers,
variable length, registry metadata). Shapes, gradients, batch consistency and the ONNX round
trip of every registered model are in test_models.py."""

from __future__ import annotations

import pytest
import torch

from kwspot import models
from kwspot.models.profile import count_params

# Published parameter counts (12 classes unless noted) and where they come from.
PUBLISHED_PARAMS: dict[str, tuple[int, str]] = {
    "bcresnet1": (9_200, "Kim et al. 2021, Broadcasted Residual Learning (results table)"),
    "bcresnet2": (27_300, "Kim et al. 2021 (results table)"),
    "bcresnet3": (54_200, "Kim et al. 2021 (results table)"),
    "bcresnet6": (188_000, "Kim et al. 2021 (results table)"),
    "bcresnet8": (321_000, "Kim et al. 2021 (results table)"),
    # 30/35-word heads in the paper; our 12-class head is ~2.3k parameters smaller.
    "matchboxnet3x1x64": (77_000, "Majumdar & Ginsburg 2020, MatchboxNet (results table)"),
    "matchboxnet3x2x64": (93_000, "Majumdar & Ginsburg 2020 (results table)"),
    # Sizes of the released S/M/L configurations (Zhang et al. 2017, Hello Edge;
    # ARM-software/ML-KWS-for-MCU); the paper tabulates memory/ops rather than parameters.
    "dscnn_s": (24_000, "Zhang et al. 2017, Hello Edge, DS-CNN S"),
    "dscnn_m": (140_000, "Zhang et al. 2017, Hello Edge, DS-CNN M"),
    "dscnn_l": (420_000, "Zhang et al. 2017, Hello Edge, DS-CNN L"),
    "kwt1": (607_000, "Berg et al. 2021, Keyword Transformer (KWT-1)"),
}
MODERN = sorted(PUBLISHED_PARAMS)

# Keys of the training config that ``recommended`` may use, and the front-end config keys.
RECOMMENDED_KEYS = {"epochs", "batch_size", "lr", "optimizer", "weight_decay", "schedule",
                    "warmup", "label_smoothing", "mixup", "spec_time_masks",
                    "spec_time_width", "spec_freq_masks", "spec_freq_width", "ema"}
FRONTEND_KEYS = {"n_mels", "n_mfcc", "n_fft", "win_length", "hop_length", "f_min", "f_max"}


def feature_shape(name: str, num_samples: int = 16000) -> tuple[int, int, int]:
    """``(1, F, T)`` of the model's front end for a clip (centred frames: 1 + N // hop)."""
    spec = models.get_spec(name)
    ov = spec.frontend_overrides
    bands = ov.get("n_mels", 40)
    if spec.frontend == "mfcc":
        bands = ov.get("n_mfcc", bands)
    return (1, bands, 1 + num_samples // ov.get("hop_length", 160))


def build(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return models.create(name, num_classes=12)


@pytest.mark.parametrize("name", MODERN)
def test_parameter_count_matches_paper(name: str) -> None:
    published, source = PUBLISHED_PARAMS[name]
    ours = count_params(build(name))
    assert abs(ours - published) <= 0.10 * published, (
        f"{name}: {ours} parameters vs {published} published ({source})")


@pytest.mark.parametrize("name", MODERN)
def test_other_lengths(name: str) -> None:
    """Global pooling / interpolated positions: 1.5-s and 0.5-s windows run."""
    model = build(name).eval()
    _, bands, _ = feature_shape(name)
    for frames in (151, 51):
        with torch.no_grad():
            out = model(torch.randn(2, 1, bands, frames))
        assert out.shape == (2, 12)
        assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", MODERN)
def test_registry_metadata(name: str) -> None:
    spec = models.get_spec(name)
    assert spec.frontend in ("mel", "mfcc")
    assert spec.paper
    assert set(spec.frontend_overrides) <= FRONTEND_KEYS
    rec = spec.recommended
    assert set(rec) <= RECOMMENDED_KEYS, set(rec) - RECOMMENDED_KEYS
    assert rec["optimizer"] in ("sgd", "adamw")
    assert rec["schedule"] in ("cosine", "step", "constant")
    assert 0 < rec["warmup"] <= 0.05 and rec["epochs"] > 0  # stated in epochs and shares
    assert isinstance(rec["batch_size"], int)


@pytest.mark.parametrize("name", MODERN)
def test_frontend_overrides_are_valid(name: str) -> None:
    """The overrides build a valid front-end config whose output shape the model accepts."""
    features = pytest.importorskip("kwspot.features")
    spec = models.get_spec(name)
    cfg = features.FrontendConfig(kind=spec.frontend).with_overrides(**spec.frontend_overrides)
    assert cfg.output_shape() == feature_shape(name)


def test_kwt_positional_interpolation_is_identity_at_native_length() -> None:
    model = build("kwt1")
    torch.testing.assert_close(model.positional_embedding(101), model.pos_emb)
    assert model.positional_embedding(151).shape == (1, 152, 64)


def test_bcresnet_rejects_band_counts_the_sub_bands_cannot_split() -> None:
    with pytest.raises(ValueError, match="sub-bands"):
        models.create("bcresnet1", 12, n_mels=64)  # 64 → 32 → 16 bands: not divisible by 5


@pytest.mark.parametrize("name", ["kwt1", "matchboxnet3x1x64"])
def test_wrong_band_count_is_a_clear_error(name: str) -> None:
    _, bands, frames = feature_shape(name)
    with pytest.raises(ValueError, match="bands"):
        build(name)(torch.randn(1, 1, bands + 8, frames))
