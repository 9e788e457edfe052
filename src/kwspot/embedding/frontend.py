"""The embedding front-end: waveforms → openWakeWord speech embeddings, offline and streaming.

Offline (:class:`EmbeddingFrontend`): a clip padded with ``pad`` samples of silence (or of a
fixed quiet noise) on each side (a 1-s clip alone yields only 3 embeddings) → mel in 8-frame
blocks → embeddings ``[B, 1, 96, E]``. Streaming (:class:`EmbeddingStream`): audio in pieces
of any length; every 80 ms of new audio yields one new embedding, computed from cached
per-layer activations (only the new time steps of each layer are computed), identical to the
offline frames of the same audio.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kwspot.embedding.modules import (
    ACT_FLOOR,
    EMB_DIM,
    EMB_LAYERS,
    EMB_STEP,
    HOP,
    LEAKY_SLOPE,
    SAMPLE_RATE,
    WINDOW,
    MelSpectrogram,
    SpeechEmbedding,
    embedding_frames,
    mel_frames,
    to_embedding_scale,
)

INT16_SCALE = 32768.0
CHUNK = EMB_STEP * HOP  # 1280 samples (80 ms) of new audio per embedding
OVERLAP = WINDOW - HOP  # 352 samples the next block's first frame shares with this block's audio


def ms_to_samples(ms: float) -> int:
    return int(round(ms * SAMPLE_RATE / 1000))


def embedding_output_frames(num_samples: int, pad: int) -> int:
    """Embeddings of a clip of ``num_samples`` padded by ``pad`` samples on each side."""
    return embedding_frames(mel_frames(num_samples + 2 * pad) // EMB_STEP * EMB_STEP)


class EmbeddingFrontend(nn.Module):
    """Float waveforms ``[B, T]`` in [-1, 1] → embeddings ``[B, copies, 96, E]``.

    ``pretrained``: load the weights from the model files (else zeros, to be filled from a
    checkpoint); ``tune_layers``: how many of the embedding's last convolutions take part in
    training (fine-tuning; 0: frozen, 20: all). The frozen part, :meth:`frozen_stage`, can then
    be computed once per clip and the tuned part, :meth:`tuned_stage`, run on its output.
    ``copies``: embeddings with their own weights over the one mel spectrogram (an ensemble of
    models whose embeddings were fine-tuned apart; each adds a channel of the output).
    """

    def __init__(self, pad_samples: int = 0, *, pad_noise: float = 0.0,
                 folder: str | None = None, pretrained: bool = True,
                 tune_layers: int = 0, copies: int = 1) -> None:
        super().__init__()
        if not 0 <= tune_layers <= len(EMB_LAYERS):
            raise ValueError(f"tune_layers must be in 0..{len(EMB_LAYERS)}, got {tune_layers}")
        if copies < 1:
            raise ValueError(f"copies must be >= 1, got {copies}")
        self.pad = int(pad_samples)
        self.first_tuned = len(EMB_LAYERS) - tune_layers  # index of the first tuned convolution
        # The padding: digital silence, or a fixed quiet white noise of ``pad_noise`` (int16
        # units, standard deviation), closer to the room noise around words in a stream.
        noise = torch.randn(2, self.pad, generator=torch.Generator().manual_seed(0)) * pad_noise
        self.register_buffer("pad_signal", noise, persistent=False)
        self.mel = MelSpectrogram()
        self.embedding = SpeechEmbedding()
        # Copies 1.. (copy 0 is ``embedding``, whose weight names predate copies).
        self.more_embeddings = nn.ModuleList(SpeechEmbedding() for _ in range(copies - 1))
        if pretrained:
            from kwspot.embedding.weights import load_weights

            mel_state, emb_state = load_weights(folder)
            self.mel.load_state_dict(mel_state)
            for emb in self.embeddings:
                emb.load_state_dict(emb_state)
        # The DFT and mel matrix stay fixed; the last convolutions may be fine-tuned.
        for emb in self.embeddings:
            for i, conv in enumerate(emb.convs):
                conv.requires_grad_(i >= self.first_tuned)

    @property
    def embeddings(self) -> list[SpeechEmbedding]:
        """Each copy of the embedding, in output-channel order."""
        return [self.embedding, *self.more_embeddings]

    def num_frames(self, num_samples: int) -> int:
        """Embeddings of one clip of ``num_samples`` samples."""
        return embedding_output_frames(num_samples, self.pad)

    def forward(self, wave: Tensor) -> Tensor:
        mel = self._mel(wave)
        return torch.stack([emb(mel) for emb in self.embeddings], dim=1)  # [B, copies, 96, E]

    def frozen_stage(self, wave: Tensor) -> Tensor:
        """The output of the last frozen convolution (the scaled mel when all are tuned),
        ``[B, C, frames, bands]``: what does not change while the tuned layers learn (one
        copy of the embedding only)."""
        self._one_copy("training in stages")
        return self.embedding.layers(self._mel(wave), 0, self.first_tuned)

    def tuned_stage(self, x: Tensor) -> Tensor:
        """:meth:`frozen_stage`'s output → embeddings ``[B, 1, 96, E]``."""
        self._one_copy("training in stages")
        return self.embedding.layers(x, self.first_tuned).squeeze(3)[:, None]

    def _one_copy(self, what: str) -> None:
        if self.more_embeddings:
            raise ValueError(f"{what} needs one copy of the embedding, not "
                             f"{len(self.embeddings)}")

    def _mel(self, wave: Tensor) -> Tensor:
        """Float waveforms → padded, scaled mel ``[B, 1, frames, 32]``."""
        x = wave * INT16_SCALE
        if self.pad:
            before, after = (self.pad_signal[i].expand(x.shape[0], -1) for i in (0, 1))
            x = torch.cat([before, x, after], dim=1)
        return to_embedding_scale(self.mel(x, block=EMB_STEP))[:, None]


class EmbeddingStream:
    """Incremental embeddings of one audio stream (batch of 1), for streaming detection.

    ``push(audio)`` takes float samples in [-1, 1] and returns the embeddings ``[96, n]`` that
    became complete; together they equal :class:`EmbeddingFrontend` (without padding) run on the
    whole stream. Per 80 ms of audio it computes 8 mel frames and one new time step of each
    embedding layer, never recomputing the earlier ones. ``copy``: which of the front-end's
    copies of the embedding (channel ``copy`` of its output).
    """

    def __init__(self, frontend: EmbeddingFrontend, copy: int = 0) -> None:
        self.mel = frontend.mel
        self.convs = frontend.embeddings[copy].convs
        self.reset()

    def reset(self) -> None:
        self._audio = torch.zeros(0)
        self._tails: list[Tensor | None] = [None] * (2 * len(EMB_LAYERS))

    @property
    def tails(self) -> list[Tensor | None]:
        """The frames each layer keeps for its next outputs: slot ``2i`` before convolution
        ``i``, ``2i + 1`` before its time pooling (None: nothing yet)."""
        return list(self._tails)

    @torch.no_grad()
    def push(self, audio: Tensor) -> Tensor:
        self._audio = torch.cat([self._audio, audio.float().flatten() * INT16_SCALE])
        blocks = max(0, (len(self._audio) - OVERLAP) // CHUNK)
        if blocks == 0:
            return torch.zeros(EMB_DIM, 0)
        used = blocks * CHUNK + OVERLAP
        mel = to_embedding_scale(self.mel(self._audio[None, :used], block=EMB_STEP))
        self._audio = self._audio[blocks * CHUNK:]
        return self._layers(mel[:, None])[0, :, :, 0]

    def _layers(self, x: Tensor) -> Tensor:
        last = len(EMB_LAYERS) - 1
        for i, (conv, (_, _, kernel, pool)) in enumerate(zip(self.convs, EMB_LAYERS, strict=True)):
            x = self._valid_in_time(2 * i, x, kernel[0], 1)
            if x.shape[2]:
                x = conv(x)
            else:
                x = x.new_zeros(1, conv.out_channels, 0, x.shape[3])
            if i < last:
                x = F.leaky_relu(x, LEAKY_SLOPE).clamp_min(ACT_FLOOR)
            if pool is not None:
                x = self._valid_in_time(2 * i + 1, x, pool[0], pool[0])
                x = F.max_pool2d(x, pool) if x.shape[2] else x[:, :, :, ::pool[1]]
        return x

    def _valid_in_time(self, slot: int, x: Tensor, kernel: int, stride: int) -> Tensor:
        """The new input of a time-``kernel``/``stride`` layer with the frames kept from before;
        keeps the frames its next outputs will need."""
        tail = self._tails[slot]
        if tail is not None:
            x = torch.cat([tail, x], dim=2)
        n_out = max(0, (x.shape[2] - kernel) // stride + 1)
        self._tails[slot] = x[:, :, n_out * stride:]
        return x[:, :, :(n_out - 1) * stride + kernel] if n_out else x[:, :, :0]
