"""Front-ends: shapes, batch consistency, agreement with librosa."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kwspot.features import Frontend, FrontendConfig, dct_matrix, mel_filterbank


def _clips(n: int = 4, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(16000) / 16000
    tones = torch.sin(2 * torch.pi * (200 + 800 * torch.rand(n, 1, generator=g)) * t)
    return 0.3 * tones + 0.05 * torch.randn(n, 16000, generator=g)


@pytest.mark.parametrize("kind,shape", [("raw", (1, 16000)), ("mel", (1, 40, 101)),
                                        ("mfcc", (1, 40, 101))])
def test_shapes(kind: str, shape: tuple[int, ...]) -> None:
    cfg = FrontendConfig(kind=kind)
    out = Frontend(cfg)(_clips(3))
    assert tuple(out.shape) == (3, *shape) == (3, *cfg.output_shape())


@pytest.mark.parametrize("kind", ["mel", "mfcc"])
def test_batch_consistency(kind: str) -> None:
    fe = Frontend(FrontendConfig(kind=kind))
    x = _clips(5)
    whole = fe(x)
    single = torch.cat([fe(x[i:i + 1]) for i in range(5)])
    assert torch.allclose(whole, single, atol=1e-4)


def test_agrees_with_librosa() -> None:
    librosa = pytest.importorskip("librosa", reason="librosa is a test-only dependency")
    x = _clips(2).numpy()
    cfg = FrontendConfig()
    params = dict(sr=16000, n_fft=512, win_length=400, hop_length=160, n_mels=40, fmin=20.0,
                  fmax=8000.0, center=True, pad_mode="constant", power=2.0)
    mel_ours = Frontend(cfg)(torch.from_numpy(x)).detach().numpy()[:, 0]
    mfcc_ours = Frontend(FrontendConfig(kind="mfcc"))(torch.from_numpy(x)).detach().numpy()[:, 0]
    for i in range(2):
        ref = librosa.feature.melspectrogram(y=x[i], **params)
        log_ref = np.log(ref + cfg.log_floor)
        assert np.abs(mel_ours[i] - log_ref).max() < 1e-3
        mfcc_ref = librosa.feature.mfcc(S=log_ref, n_mfcc=40, dct_type=2, norm="ortho")
        assert np.abs(mfcc_ours[i] - mfcc_ref).max() < 1e-3
    fb = librosa.filters.mel(sr=16000, n_fft=512, n_mels=40, fmin=20.0, fmax=8000.0)
    assert np.abs(mel_filterbank(16000, 512, 40, 20.0, 8000.0) - fb).max() < 1e-6


def test_dct_is_orthonormal() -> None:
    d = dct_matrix(40, 40)
    assert np.allclose(d @ d.T, np.eye(40), atol=1e-10)


def test_normalization_fits_stats() -> None:
    fe = Frontend(FrontendConfig(kind="mel", normalize=True))
    x = _clips(16)
    fe.fit_normalization(x)
    y = fe(x)
    per_band_mean = y.mean(dim=(0, 1, 3))
    per_band_std = y.std(dim=(0, 1, 3))
    assert per_band_mean.abs().max() < 1e-3
    assert (per_band_std - 1).abs().max() < 1e-2


def test_bad_parameters_quote_the_value() -> None:
    with pytest.raises(ValueError, match="'spectro'"):
        FrontendConfig(kind="spectro")
    with pytest.raises(ValueError, match="f_max=9000"):
        FrontendConfig(f_max=9000)
