"""Front-ends as ``nn.Module``s applied to a batch of waveforms on the training device.

* ``raw``: the waveform itself, ``[B, 1, T]``.
* ``mel``: log mel spectrogram, ``[B, 1, n_mels, frames]`` (40×101 for a 1-s clip).
* ``mfcc``: DCT-II (orthonormal) of the log mel, ``[B, 1, n_mfcc, frames]`` (40×101).
* ``embedding``: openWakeWord's pretrained speech embedding (:mod:`kwspot.embedding`),
  ``[B, 1, 96, frames]``, one 96-d vector per 80 ms of the clip padded by ``embedding_pad_ms``
  of silence on each side (15 vectors for a 1-s clip with the default 500 ms);
  ``[B, copies, 96, frames]`` for an ensemble holding several fine-tuned copies of it.

The exact recipe (defaults of :class:`FrontendConfig`): a periodic Hann window of
``win_length`` = 400 samples (25 ms) zero-padded to ``n_fft`` = 512, hop 160 samples (10 ms),
centred frames (``n_fft // 2`` zeros on both sides, so a 16000-sample clip gives
1 + 16000 // 160 = 101 frames), power spectrum ``|X|²``, 40 triangular mel filters between
``f_min`` = 20 Hz and ``f_max`` = 8000 Hz on the Slaney mel scale with Slaney area
normalisation (librosa's defaults, ``htk=False, norm="slaney"``), then the natural log with a
floor: ``log(mel + 1e-6)``. No per-clip normalisation (so streaming equals offline); optional
per-band mean/variance normalisation with statistics fitted on training data.
Constant tensors (window, filterbank, DCT) are buffers, so ``.to(device)`` moves them.

One implementation serves PyTorch and ONNX: while ``torch.onnx.export`` traces it, the STFT is
a strided convolution with a fixed DFT kernel (window taps that are zero and frequency bins the
mel filterbank ignores left out), which every ONNX runtime supports and onnxruntime runs faster
than its ``STFT`` operator; the numbers match the FFT path within float32 rounding.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kwspot.data.audio import CLIP_SAMPLES, SAMPLE_RATE
from kwspot.feature_kinds import EMBEDDING_LAYERS, FRONTENDS

# A single-threaded CPU front-end works through a batch in chunks of about this many frame
# samples (≈2 MB, one core's L2 cache), 3-5× faster than one pass over a large batch. With
# several threads every op on a chunk is a parallel region: on an idle 2-core machine chunks of
# ~20 clips were 2-4× faster than one pass, but with other processes on the cores (load ≥ 3)
# each region waits for a descheduled thread and chunks were 8-10× slower than one pass (4 vs
# 0.4 ms per clip), so several threads take the batch in one pass. Fastest everywhere: 1 thread.
_CPU_CHUNK_FLOATS = 1 << 19
EMBEDDING_DIM = 96


@dataclass(frozen=True)
class FrontendConfig:
    """Front-end parameters (units in the names)."""

    kind: str = "mel"  # raw | mel | mfcc | embedding
    sample_rate: int = SAMPLE_RATE  # Hz
    n_fft: int = 512  # FFT size in samples (window zero-padded to it)
    win_length: int = 400  # analysis window in samples (25 ms)
    hop_length: int = 160  # frame step in samples (10 ms)
    n_mels: int = 40  # mel bands
    n_mfcc: int = 40  # cepstral coefficients kept (mfcc only)
    f_min: float = 20.0  # lowest band edge, Hz
    f_max: float = 8000.0  # highest band edge, Hz
    log_floor: float = 1e-6  # log(mel + log_floor)
    normalize: bool = False  # per-band mean/std normalisation (statistics fitted on train data)
    embedding_pad_ms: float = 500.0  # silence added on each side of a clip (embedding only)
    embedding_pad_noise: float = 0.0  # std of the fixed noise in that padding (int16 units)
    embedding_dir: str = ""  # folder with openWakeWord's model files ("" = installed wheel)
    embedding_lr_scale: float = 0.0  # fine-tune the embedding at lr × this (0 = frozen)
    embedding_tune_layers: int = 20  # when fine-tuned: its last convolutions that learn (of 20)
    embedding_copies: int = 1  # embeddings with their own weights (an ensemble of fine-tuned ones)

    def __post_init__(self) -> None:
        if self.kind not in FRONTENDS:
            raise ValueError(f"front-end must be one of {', '.join(FRONTENDS)}, got {self.kind!r}")
        if self.win_length > self.n_fft:
            raise ValueError(f"win_length {self.win_length} > n_fft {self.n_fft}")
        if not 0 <= self.f_min < self.f_max <= self.sample_rate / 2:
            raise ValueError(f"need 0 <= f_min < f_max <= sample_rate/2, got "
                             f"f_min={self.f_min}, f_max={self.f_max}")
        if self.kind == "mfcc" and not 0 < self.n_mfcc <= self.n_mels:
            raise ValueError(f"n_mfcc must be in 1..n_mels ({self.n_mels}), got {self.n_mfcc}")
        if not 0 <= self.embedding_pad_ms <= 5000:
            raise ValueError(f"embedding_pad_ms must be in 0..5000, got {self.embedding_pad_ms}")
        if self.embedding_lr_scale < 0:
            raise ValueError(f"embedding_lr_scale must be >= 0, got {self.embedding_lr_scale}")
        if self.embedding_copies < 1:
            raise ValueError(f"embedding_copies must be >= 1, got {self.embedding_copies}")
        if not 1 <= self.embedding_tune_layers <= EMBEDDING_LAYERS:
            raise ValueError(f"embedding_tune_layers must be in 1..{EMBEDDING_LAYERS}, got "
                             f"{self.embedding_tune_layers}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FrontendConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown front-end parameter(s): {', '.join(sorted(unknown))}")
        return cls(**d)

    def with_overrides(self, **kw: Any) -> FrontendConfig:
        return replace(self, **kw)

    def output_shape(self, num_samples: int = CLIP_SAMPLES) -> tuple[int, ...]:
        """Shape of one clip's features (without batch)."""
        if self.kind == "raw":
            return (1, num_samples)
        if self.kind == "embedding":
            from kwspot.embedding.frontend import embedding_output_frames, ms_to_samples

            return (self.embedding_copies, EMBEDDING_DIM,
                    embedding_output_frames(num_samples, ms_to_samples(self.embedding_pad_ms)))
        frames = 1 + num_samples // self.hop_length
        return (1, self.n_mels if self.kind == "mel" else self.n_mfcc, frames)


def hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    mel = f / (200.0 / 3)
    log_part = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (math.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log_part, mel)


def mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    lin = m * (200.0 / 3)
    log_part = 1000.0 * np.exp((math.log(6.4) / 27.0) * (m - 15.0))
    return np.where(m >= 15.0, log_part, lin)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float,
                   f_max: float) -> np.ndarray:
    """``[n_mels, n_fft//2 + 1]`` triangular filters with Slaney area normalisation."""
    fft_freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    fdiff = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights


def dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """``[n_out, n_in]`` orthonormal DCT-II matrix (``scipy.fft.dct(norm="ortho")`` rows)."""
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    m = np.cos(math.pi / n_in * (n + 0.5) * k) * math.sqrt(2.0 / n_in)
    m[0] /= math.sqrt(2.0)
    return m


class Frontend(nn.Module):
    """Waveforms ``[B, T]`` (float in [-1, 1]) → features ``[B, 1, ...]``.

    ``pretrained`` (embedding only): load the embedding's weights from openWakeWord's model
    files; without it they are left at zero, to be filled from a checkpoint.
    """

    def __init__(self, cfg: FrontendConfig, *, pretrained: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        dim = {"mel": cfg.n_mels, "mfcc": cfg.n_mfcc, "embedding": EMBEDDING_DIM}.get(cfg.kind, 1)
        if cfg.kind == "embedding":
            from kwspot.embedding.frontend import EmbeddingFrontend, ms_to_samples

            self.embedding = EmbeddingFrontend(
                ms_to_samples(cfg.embedding_pad_ms), pad_noise=cfg.embedding_pad_noise,
                folder=cfg.embedding_dir or None,
                pretrained=pretrained, copies=cfg.embedding_copies,
                tune_layers=cfg.embedding_tune_layers if cfg.embedding_lr_scale > 0 else 0)
        elif cfg.kind != "raw":
            self._init_mel(cfg)
        if cfg.normalize:
            self.register_buffer("norm_mean", torch.zeros(dim))
            self.register_buffer("norm_std", torch.ones(dim))

    def _init_mel(self, cfg: FrontendConfig) -> None:
        win = torch.hann_window(cfg.win_length, periodic=True, dtype=torch.float64)
        left = (cfg.n_fft - cfg.win_length) // 2
        win = nn.functional.pad(win, (left, cfg.n_fft - cfg.win_length - left))
        self.register_buffer("window", win.float())
        fb = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.f_min, cfg.f_max)
        self.register_buffer("mel_fb", torch.from_numpy(fb.T.copy()).float())  # [bins, mels]
        # The filterbank for the interleaved (re, im) spectrum: squaring [re, im] pairs and
        # one matmul give mel(|X|²) directly. Cut after the last bin the filters use when
        # that drops a quarter of the bins or more (slicing costs a strided copy).
        used = np.flatnonzero(fb.sum(0) > 0)
        n_bins = fb.shape[1]
        self._bins = int(used[-1]) + 1 if len(used) else 1
        if self._bins > 0.75 * n_bins:
            self._bins = n_bins
        fb_ri = np.repeat(fb.T[:self._bins], 2, axis=0)  # [2 * bins, mels]
        self.register_buffer("mel_fb_ri", torch.from_numpy(fb_ri).float(), persistent=False)
        if cfg.kind == "mfcc":
            dct = dct_matrix(cfg.n_mfcc, cfg.n_mels)
            self.register_buffer("dct", torch.from_numpy(dct.T.copy()).float())  # [mels, k]
        self._init_dft(cfg, win, fb)

    def _init_dft(self, cfg: FrontendConfig, window: Tensor, fb: np.ndarray) -> None:
        """The STFT as a convolution kernel, used while exporting to ONNX."""
        taps = torch.nonzero(window).flatten()
        # The kernel spans the non-zero window taps, widened to be symmetric about the frame
        # centre so that centring becomes the convolution's own (symmetric) zero padding.
        lo = min(int(taps[0]), cfg.n_fft - int(taps[-1]) - 1)
        self._conv_padding = cfg.n_fft // 2 - lo
        bins = np.flatnonzero(np.abs(fb).sum(0) > 0)
        b0, b1 = int(bins[0]), int(bins[-1]) + 1  # frequency bins the filterbank uses
        k = torch.arange(b0, b1, dtype=torch.float64)[:, None]
        n = torch.arange(lo, cfg.n_fft - lo, dtype=torch.float64)[None, :]
        angle = 2.0 * torch.pi * k * n / cfg.n_fft
        win = window[lo:cfg.n_fft - lo]
        kernel = torch.cat([torch.cos(angle) * win, -torch.sin(angle) * win])  # [2K, taps]
        self.register_buffer("dft", kernel.float()[:, None, :], persistent=False)
        self.register_buffer("dft_mel_fb", torch.from_numpy(fb.T[b0:b1].copy()).float(),
                             persistent=False)

    def forward(self, wave: Tensor) -> Tensor:
        """``[B, T]`` → ``[B, 1, T]`` (raw), ``[B, 1, F, 1 + T // hop]`` (mel, mfcc) or
        ``[B, 1, 96, frames]`` (embedding)."""
        if wave.dim() == 3:
            wave = wave.squeeze(1)
        cfg = self.cfg
        if cfg.kind == "raw":
            out = wave.float()[:, None, :]
        elif cfg.kind == "embedding":
            out = self.embedding(wave.float())
        else:
            feats = (self._log_mel_conv(wave.float()) if torch.onnx.is_in_onnx_export()
                     else self.log_mel(wave.float()))
            if cfg.kind == "mfcc":
                feats = torch.matmul(feats, self.dct)
            out = feats.transpose(1, 2)[:, None]  # [B, 1, F, frames]
        if cfg.normalize:
            shape = (1, 1, -1, 1) if cfg.kind != "raw" else (1, 1, 1)
            out = (out - self.norm_mean.view(shape)) / self.norm_std.view(shape)
        return out

    @property
    def splits_in_stages(self) -> bool:
        """Whether training can run :meth:`frozen_stage` once per clip and learn on its output:
        a pretrained embedding, frozen or with only its last layers fine-tuned."""
        cfg = self.cfg
        return (cfg.kind == "embedding" and not cfg.normalize
                and (cfg.embedding_lr_scale == 0 or cfg.embedding_tune_layers < EMBEDDING_LAYERS))

    def frozen_stage(self, wave: Tensor) -> Tensor:
        """The part of :meth:`forward` that training does not change (all of it unless a
        pretrained embedding is partly fine-tuned)."""
        if self.cfg.kind == "embedding" and self.cfg.embedding_lr_scale > 0:
            return self.embedding.frozen_stage(wave.float())
        return self.forward(wave)

    def tuned_stage(self, x: Tensor) -> Tensor:
        """:meth:`frozen_stage`'s output → the features :meth:`forward` gives."""
        if self.cfg.kind == "embedding" and self.cfg.embedding_lr_scale > 0:
            return self.embedding.tuned_stage(x)
        return x

    def _log_mel_conv(self, wave: Tensor) -> Tensor:
        """:meth:`log_mel` with the STFT as a strided convolution (the ONNX graph's form)."""
        spec = F.conv1d(wave[:, None, :], self.dft, stride=self.cfg.hop_length,
                        padding=self._conv_padding)  # [B, 2K, frames]
        n_bins = self.dft_mel_fb.shape[0]
        power = spec[:, :n_bins].square() + spec[:, n_bins:].square()
        return torch.log(torch.matmul(power.transpose(1, 2), self.dft_mel_fb) + self.cfg.log_floor)

    def log_mel(self, wave: Tensor) -> Tensor:
        """``[B, T]`` → log mel ``[B, frames, n_mels]``.

        Centred frames (``unfold`` of the zero-padded wave) times the window, a real FFT, the
        interleaved (re, im) spectrum squared and one matmul with :attr:`mel_fb_ri`. On one CPU
        thread the batch goes through in cache-sized chunks; otherwise in one pass.
        """
        b = wave.shape[0]
        frames = 1 + wave.shape[1] // self.cfg.hop_length
        chunk = b
        if (wave.device.type == "cpu" and torch.get_num_threads() == 1
                and not torch.jit.is_tracing()):
            chunk = max(1, _CPU_CHUNK_FLOATS // (frames * self.cfg.n_fft))
        if chunk >= b:
            return self._log_mel_chunk(wave)
        out = wave.new_empty(b, frames, self.cfg.n_mels)
        for i in range(0, b, chunk):
            out[i:i + chunk] = self._log_mel_chunk(wave[i:i + chunk])
        return out

    def _log_mel_chunk(self, wave: Tensor) -> Tensor:
        cfg = self.cfg
        half = cfg.n_fft // 2
        frames = F.pad(wave, (half, half)).unfold(1, cfg.n_fft, cfg.hop_length) * self.window
        spec = torch.view_as_real(torch.fft.rfft(frames))  # [B, frames, n_fft//2 + 1, 2]
        inplace = not (torch.is_grad_enabled() and wave.requires_grad)
        if self._bins < spec.shape[2]:
            power = spec[:, :, :self._bins].square()
        else:
            power = spec.square_() if inplace else spec.square()
        mel = torch.matmul(power.flatten(2), self.mel_fb_ri)  # [B, frames, n_mels]
        if inplace:
            return mel.add_(cfg.log_floor).log_()
        return torch.log(mel + cfg.log_floor)

    @torch.no_grad()
    def fit_normalization(self, waves: Tensor, batch_size: int = 512) -> None:
        """Set per-band mean/std from float waveforms ``[N, T]`` (requires ``normalize``)."""
        if not self.cfg.normalize:
            raise ValueError("fit_normalization needs FrontendConfig(normalize=True)")
        self.norm_mean.zero_()
        self.norm_std.fill_(1.0)
        total = torch.zeros_like(self.norm_mean, dtype=torch.float64)
        total_sq = torch.zeros_like(total)
        count = 0
        for i in range(0, len(waves), batch_size):
            f = self(waves[i:i + batch_size].to(self.norm_mean.device)).double()
            dims = (0, 1, 3) if f.dim() == 4 else (0, 1, 2)
            total += f.sum(dims)
            total_sq += f.square().sum(dims)
            count += f.numel() // total.numel()
        mean = total / count
        self.norm_mean.copy_(mean.float())
        self.norm_std.copy_((total_sq / count - mean.square()).clamp_min(1e-10).sqrt().float())


def int16_to_float(x: Tensor) -> Tensor:
    """int16 samples → float32 in [-1, 1)."""
    return x.float() / 32768.0
