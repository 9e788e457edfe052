"""Front-ends: every kind's shape, gradients, batch consistency and ONNX round trip; agreement
with librosa; the fast log-mel path against torch.stft."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kwspot.features import FRONTENDS, Frontend, FrontendConfig, dct_matrix, mel_filterbank


def _clips(n: int = 4, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(16000) / 16000
    tones = torch.sin(2 * torch.pi * (200 + 800 * torch.rand(n, 1, generator=g)) * t)
    return 0.3 * tones + 0.05 * torch.randn(n, 16000, generator=g)


SHAPES = {"raw": (1, 16000), "mel": (1, 40, 101), "mfcc": (1, 40, 101), "embedding": (1, 96, 15)}


def frontend(kind: str, **overrides: object) -> Frontend:
    """The front-end of ``kind`` in eval mode (skips the embedding without its weights)."""
    if kind == "embedding":
        pytest.importorskip("pyopen_wakeword", reason="pyopen-wakeword is not installed")
    return Frontend(FrontendConfig(kind=kind, **overrides)).eval()


def test_every_kind_has_a_known_shape() -> None:
    assert set(SHAPES) == set(FRONTENDS)


@pytest.mark.parametrize("kind", FRONTENDS)
@pytest.mark.parametrize("normalize", [False, True])
def test_shapes(kind: str, normalize: bool) -> None:
    fe = frontend(kind, normalize=normalize)
    out = fe(_clips(3))
    assert tuple(out.shape) == (3, *SHAPES[kind]) == (3, *fe.cfg.output_shape())


@pytest.mark.parametrize("kind", FRONTENDS)
def test_batch_consistency(kind: str) -> None:
    fe = frontend(kind)
    x = _clips(5)
    whole = fe(x)
    single = torch.cat([fe(x[i:i + 1]) for i in range(5)])
    assert torch.allclose(whole, single, atol=1e-4)


@pytest.mark.parametrize("kind", FRONTENDS)
def test_gradients_reach_the_waveform(kind: str) -> None:
    x = _clips(2).requires_grad_()
    frontend(kind)(x).square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize("kind", FRONTENDS)
def test_onnx_round_trip(kind: str) -> None:
    """One front-end implementation: its exported graph, run by onnxruntime, computes what
    PyTorch computes (for another batch size than the traced one)."""
    import io
    import warnings

    import onnxruntime as ort

    fe = frontend(kind)
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(fe, (_clips(2),), buf, dynamo=False, opset_version=17,
                          input_names=["audio"], output_names=["features"],
                          dynamic_axes={"audio": {0: "batch"}, "features": {0: "batch"}})
    session = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    x = _clips(3, seed=1)
    got = session.run(None, {"audio": x.numpy()})[0]
    with torch.no_grad():
        want = fe(x).numpy()
    assert got.shape == want.shape
    assert np.abs(got - want).max() < 1e-3


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


@pytest.mark.parametrize("kw", [{}, {"win_length": 480},
                                {"n_fft": 1024, "win_length": 640, "hop_length": 320,
                                 "f_max": 4000.0, "n_mfcc": 10},
                                {"n_mels": 64, "n_mfcc": 64}])
def test_fast_log_mel_matches_stft_reference_on_every_path(kw: dict) -> None:
    """The chunked single-thread path and the one-pass path give torch.stft's numbers."""
    fe = Frontend(FrontendConfig(kind="mfcc", **kw))
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((23, 16000)).astype(np.float32)
                         * 0.1)
    spec = torch.stft(x, fe.cfg.n_fft, fe.cfg.hop_length, window=fe.window, center=True,
                      pad_mode="constant", return_complex=True)
    ref = torch.log((spec.abs() ** 2).transpose(1, 2) @ fe.mel_fb + fe.cfg.log_floor)
    threads = torch.get_num_threads()
    try:
        outs = []
        for t in (1, 2):  # one thread: chunks of a few clips; more: one pass
            torch.set_num_threads(t)
            with torch.no_grad():
                outs.append(fe.log_mel(x))
    finally:
        torch.set_num_threads(threads)
    for out in outs:
        assert out.shape == ref.shape
        assert (out - ref).abs().max() < 1e-4
    assert torch.equal(outs[0][:5], fe._log_mel_chunk(x[:5]))
    assert "mel_fb_ri" not in fe.state_dict()  # checkpoints keep their keys


def test_fast_log_mel_passes_gradients() -> None:
    fe = Frontend(FrontendConfig(kind="mel"))
    x = (torch.randn(3, 16000) * 0.1).requires_grad_()
    fe(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
