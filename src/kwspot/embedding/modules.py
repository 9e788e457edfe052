"""openWakeWord's two feature models re-expressed as PyTorch modules (weights loaded separately).

* :class:`MelSpectrogram`: audio in int16 scale ``[B, N]`` → 32-band log mel in dB
  ``[B, frames, 32]``, one frame every 10 ms (a 512-sample window, no centring, so
  ``frames = (N - 512) // 160 + 1``); the STFT is a strided convolution with the model's own DFT
  kernels (only the 399 non-zero window taps and the 120 bins the mel matrix uses), power through
  the mel matrix, ``10·log10(max(·, 1e-10))``, and values more than 80 dB below the loudest one
  raised to it. That "top dB" floor looks at the whole input in the TFLite model; here it looks at
  blocks of ``block`` frames (openWakeWord's streaming runs the model on 8 frames at a time) or at
  the whole input with ``block=None``.
* :class:`SpeechEmbedding`: mel frames, openWakeWord-scaled (``dB / 10 + 2``), ``[B, 1, F, 32]``
  → ``[B, 96, E]``: one 96-d vector per 76-frame window, windows every 8 frames,
  ``E = (F - 76) // 8 + 1``. The network is fully convolutional along time with an overall time
  stride of 8, so one pass over a long sequence gives every window's vector exactly as running
  the model window by window would.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SAMPLE_RATE = 16000
HOP = 160  # samples per mel frame (10 ms)
WINDOW = 512  # samples per STFT window
N_MELS = 32
TAPS = (57, 456)  # the DFT kernels' non-zero taps (a 399-sample Hann window inside 512)
BINS = (2, 122)  # the frequency bins the mel matrix uses
TOP_DB = 80.0
POWER_FLOOR = 1e-10
EMB_WINDOW = 76  # mel frames per embedding (775 ms)
EMB_STEP = 8  # mel frames between embeddings (80 ms)
EMB_DIM = 96
LEAKY_SLOPE = 0.2
ACT_FLOOR = -0.4

# The embedding network, in the model file's order: (in, out, kernel time × mel, pool after).
# Every convolution but the last is followed by LeakyReLU(0.2) and max(·, -0.4); convolutions
# with a kernel 3 wide along mel pad it by one on each side, time is never padded.
EMB_LAYERS: tuple[tuple[int, int, tuple[int, int], tuple[int, int] | None], ...] = (
    (1, 24, (3, 3), None), (24, 24, (1, 3), None), (24, 24, (3, 1), (2, 2)),
    (24, 48, (1, 3), None), (48, 48, (3, 1), None), (48, 48, (1, 3), None),
    (48, 48, (3, 1), (1, 2)),
    (48, 72, (1, 3), None), (72, 72, (3, 1), None), (72, 72, (1, 3), None),
    (72, 72, (3, 1), (2, 2)),
    (72, 96, (1, 3), None), (96, 96, (3, 1), None), (96, 96, (1, 3), None),
    (96, 96, (3, 1), (1, 2)),
    (96, 96, (1, 3), None), (96, 96, (3, 1), None), (96, 96, (1, 3), None),
    (96, 96, (3, 1), (2, 2)),
    (96, 96, (3, 1), None),
)


def mel_frames(num_samples: int) -> int:
    """Mel frames of ``num_samples`` audio samples (no centring)."""
    return max(0, (num_samples - WINDOW) // HOP + 1)


def embedding_frames(num_mel_frames: int) -> int:
    """Embeddings of ``num_mel_frames`` mel frames."""
    return max(0, (num_mel_frames - EMB_WINDOW) // EMB_STEP + 1)


class MelSpectrogram(nn.Module):
    """Audio in int16 scale ``[B, N]`` → log mel in dB ``[B, frames, 32]``."""

    def __init__(self) -> None:
        super().__init__()
        n_bins, n_taps = BINS[1] - BINS[0], TAPS[1] - TAPS[0]
        self.dft = nn.Parameter(torch.zeros(2 * n_bins, 1, n_taps), requires_grad=False)
        self.mel = nn.Parameter(torch.zeros(n_bins, N_MELS), requires_grad=False)

    def forward(self, audio: Tensor, block: int | None = EMB_STEP) -> Tensor:
        """``block``: frames sharing one top-dB floor (None: the whole input)."""
        x = audio[:, None, TAPS[0]:]
        spec = F.conv1d(x, self.dft, stride=HOP)  # [B, 2K, frames]
        n = self.mel.shape[0]
        power = spec[:, :n].square() + spec[:, n:].square()
        frames = (audio.shape[-1] - WINDOW) // HOP + 1  # no max(): exports without a warning
        power = power[:, :, :frames].transpose(1, 2)
        db = torch.log(torch.matmul(power, self.mel).clamp_min(POWER_FLOOR)) * (10 / 2.302585093)
        if block is None:
            peak = db.amax(dim=(1, 2), keepdim=True)
            return torch.maximum(db, peak - TOP_DB)
        blocks = frames // block
        db = db[:, :blocks * block].reshape(db.shape[0], blocks, block * N_MELS)
        db = torch.maximum(db, db.amax(dim=2, keepdim=True) - TOP_DB)
        return db.reshape(db.shape[0], blocks * block, N_MELS)


def to_embedding_scale(mel_db: Tensor) -> Tensor:
    """openWakeWord's scaling of dB mel frames before the embedding model."""
    return mel_db / 10.0 + 2.0


class SpeechEmbedding(nn.Module):
    """Scaled mel ``[B, 1, F, 32]`` → embeddings ``[B, 96, E]`` (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(cin, cout, kernel, padding=(0, kernel[1] // 2))
            for cin, cout, kernel, _ in EMB_LAYERS)
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, mel: Tensor) -> Tensor:
        return self.layers(mel).squeeze(3)  # [B, 96, E, 1] → [B, 96, E]

    def layers(self, x: Tensor, start: int = 0, stop: int = len(EMB_LAYERS)) -> Tensor:
        """Convolutions ``start`` to ``stop - 1`` (each with its activation and pooling) on
        ``x``, the output of convolution ``start - 1`` (or the scaled mel when ``start`` is 0);
        4-d throughout."""
        last = len(EMB_LAYERS) - 1
        # In place when nothing needs the pre-activation values (a quarter faster on a CPU).
        inplace = not (torch.is_grad_enabled() or torch.jit.is_tracing())
        for i in range(start, stop):
            conv, pool = self.convs[i], EMB_LAYERS[i][3]
            x = conv(x)
            if i < last and inplace:
                x = F.leaky_relu_(x, LEAKY_SLOPE).clamp_min_(ACT_FLOOR)
            elif i < last:
                x = F.leaky_relu(x, LEAKY_SLOPE).clamp_min(ACT_FLOOR)
            if pool is not None:
                x = F.max_pool2d(x, pool)
        return x
