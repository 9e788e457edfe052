"""Streaming classification with an embedding model, reusing the embeddings already computed.

A model trained on clips padded by ``pad`` samples of silence on each side sees ``E``
embeddings per clip. In a stream, each new 80 ms of audio completes one embedding
(:class:`~kwspot.embedding.frontend.EmbeddingStream`); the head then classifies the last ``E``
embeddings, which cover the same span as a padded clip, so its posterior is that of the 1-s
window starting ``pad`` samples after the first of those embeddings' audio. Per step: 8 mel
frames, one new time step of each embedding layer and one pass of the head; nothing is
recomputed.

This is the PyTorch form, the reference; `detect`, `listen` and `score` run the same step as
one fixed-shape ONNX graph in onnxruntime (:mod:`kwspot.embedding.step`,
:mod:`kwspot.embedding.onnx_stream`), three to four times cheaper per step.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from kwspot.embedding.frontend import CHUNK, EmbeddingFrontend, EmbeddingStream
from kwspot.embedding.modules import EMB_STEP, EMB_WINDOW, HOP, WINDOW


class EmbeddingWindowScorer:
    """Feed float samples, get posteriors of the 1-s windows they complete (one per 80 ms).

    ``push`` returns ``(probs [n, classes], ends [n])``: ``ends`` are the stream positions
    (samples) where the classified windows end.
    """

    hop = CHUNK  # samples between windows

    def __init__(self, frontend: EmbeddingFrontend, head: nn.Module, clip_samples: int) -> None:
        self.streams = [EmbeddingStream(frontend, c) for c in range(len(frontend.embeddings))]
        self.head = head
        self.frames = frontend.num_frames(clip_samples)
        # The clip starts `pad` samples after the first embedding's first sample.
        self.end_offset = frontend.pad + clip_samples
        # Samples that must arrive after a window's end before it is classified: embedding k
        # needs mel block k + 9, i.e. audio up to 1280·k + 13152.
        last_block_end = (EMB_WINDOW // EMB_STEP + 1) * CHUNK + WINDOW - HOP
        self.lag = (self.frames - 1) * CHUNK + last_block_end - self.end_offset
        self.reset()

    def reset(self) -> None:
        for stream in self.streams:
            stream.reset()
        self._emb = torch.zeros(len(self.streams), 96, 0)
        self._count = 0  # embeddings completed so far

    @torch.no_grad()
    def push(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        audio = torch.from_numpy(np.asarray(samples, dtype=np.float32))
        new = torch.stack([stream.push(audio) for stream in self.streams])  # [copies, 96, n]
        emb = torch.cat([self._emb, new], dim=2)
        total = self._count + new.shape[2]
        first = total - emb.shape[2]  # embedding index of emb[:, :, 0]
        ks = [k for k in range(self._count, total) if k >= self.frames - 1]
        self._count = total
        self._emb = emb[:, :, max(0, emb.shape[2] - (self.frames - 1)):]
        if not ks:
            return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
        lo = [k - self.frames + 1 - first for k in ks]
        x = torch.stack([emb[:, :, i:i + self.frames] for i in lo])  # [n, copies, 96, frames]
        probs = torch.softmax(self.head(x).float(), dim=1).numpy()
        return probs, (np.array(ks) - self.frames + 1) * CHUNK + self.end_offset
