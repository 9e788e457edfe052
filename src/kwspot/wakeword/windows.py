"""Posteriors of an embedding model over long audio, every 80 ms, from embeddings computed once.

A wake-word model takes windows of ``clip`` samples (a multiple of 80 ms) with no padding, so
the embeddings of a window that starts on an 80-ms boundary of a stream are a slice of the
stream's own embeddings. :func:`stream_embeddings` computes a file's embeddings once (the
file preceded by one window of zeros and followed by :data:`TAIL` zeros, as
:mod:`kwspot.evaluate.posteriors` places windows) and :class:`EmbeddingCache` keeps them on disk;
:func:`window_probs` then runs only the head, one window per hop. The result equals running the
whole model on every window (``tests/test_wakeword.py`` checks it).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from kwspot.embedding.frontend import (
    CHUNK,
    EmbeddingFrontend,
    embedding_output_frames,
)
from kwspot.errors import KwspotError
from kwspot.evaluate.posteriors import TAIL_S, Posteriors, Skipped, read_mono

HOP = CHUNK  # 1280 samples: one embedding, one window
MAX_CLIP = 125 * CHUNK  # longest window (10 s)
RATE = 16000
TAIL = round(TAIL_S * RATE)
_PIECE = 750 * HOP  # samples (60 s) embedded at a time
_SPAN = 10 * HOP  # more than the audio one embedding looks at (12,400 samples)
_VERSION = 1


def aligned_clip(samples: int) -> int:
    """``samples`` rounded up to a whole number of hops."""
    return -(-int(samples) // HOP) * HOP


def stream_embeddings(frontend: EmbeddingFrontend, audio: np.ndarray, clip: int) -> np.ndarray:
    """float16 ``[n, 96]``: embeddings every hop of ``clip`` zeros + ``audio`` + zeros (as many
    as the windows of :func:`window_probs` need), computed in pieces of about a minute."""
    n_emb = (len(audio) + TAIL) // HOP + frames_per_window(clip)
    stream = np.concatenate([np.zeros(clip, np.float32), audio.astype(np.float32),
                             np.zeros(TAIL + _SPAN + HOP, np.float32)])
    parts = []
    with torch.no_grad():
        for j in range(0, n_emb, _PIECE // HOP):
            piece = stream[j * HOP:j * HOP + _PIECE + _SPAN]
            want = min(_PIECE // HOP, n_emb - j)
            e = frontend(torch.from_numpy(piece)[None])[0, 0, :, :want]
            parts.append(e.T.numpy().astype(np.float16))
    return np.concatenate(parts)


def window_probs(head: nn.Module, emb: np.ndarray | Tensor, audio_samples: int, clip: int,
                 batch: int = 512) -> np.ndarray:
    """Softmax ``[windows, classes]`` of the windows :func:`kwspot.evaluate.posteriors.
    window_posteriors` would classify (hop :data:`HOP`), from :func:`stream_embeddings`."""
    if clip % HOP or not HOP <= clip <= MAX_CLIP:
        raise KwspotError(f"window of {clip} samples: must be a multiple of {HOP} up to "
                          f"{MAX_CLIP}")
    frames = frames_per_window(clip)
    n = (audio_samples + TAIL) // HOP
    e = torch.as_tensor(np.asarray(emb), dtype=torch.float32)
    views = e[1:n + frames].unfold(0, frames, 1)  # window k: embeddings k + 1 ... k + frames
    out = []
    with torch.no_grad():
        for i in range(0, len(views), batch):
            out.append(torch.softmax(head(views[i:i + batch, None]).float(), dim=1))
    return torch.cat(out).numpy() if out else np.zeros((0, 0), np.float32)


def frames_per_window(clip: int) -> int:
    """Embeddings in one window of ``clip`` samples (no padding)."""
    return embedding_output_frames(clip, 0)


class EmbeddingCache:
    """Stream embeddings of audio files, cached as ``<folder>/<key>.npy`` (key: the file's
    path, size and modification time, and the embedding weights)."""

    def __init__(self, frontend: EmbeddingFrontend, folder: Path) -> None:
        self.frontend = frontend.eval()
        self.folder = Path(folder)
        h = hashlib.sha256(str(_VERSION).encode())
        for t in frontend.state_dict().values():
            h.update(t.detach().cpu().numpy().tobytes())
        self._weights = h.hexdigest()[:16]

    def get(self, path: Path | str, clip: int) -> tuple[np.ndarray, float, int | None]:
        """``(embeddings for windows of ``clip`` samples, seconds of audio, the file's rate
        when resampled)``; a one-line KwspotError when the file cannot be read."""
        path = Path(path)
        try:
            st = path.stat()
        except OSError as exc:
            raise KwspotError(f"{path}: cannot read ({exc.strerror})") from None
        key = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|"
                             f"{clip}|{self._weights}".encode()).hexdigest()[:24]
        cached = self.folder / f"{key}.npz"
        if cached.is_file():
            try:
                with np.load(cached) as z:
                    own = int(z["rate"])
                    return z["emb"], float(z["seconds"]), own if own != RATE else None
            except (OSError, ValueError, KeyError):
                pass  # damaged: computed again
        audio, own = read_mono(path, RATE)
        emb = stream_embeddings(self.frontend, audio, clip)
        seconds = len(audio) / RATE
        self._save(cached, emb, seconds, own)
        return emb, seconds, own if own != RATE else None

    def _save(self, path: Path, emb: np.ndarray, seconds: float, rate: int) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
            np.savez(tmp, emb=emb, seconds=seconds, rate=rate)
            os.replace(tmp, path)
        except OSError:
            pass  # an unwritable cache costs a recomputation next time


def file_posteriors(cache: EmbeddingCache, head: nn.Module, clip: int,
                    files: Iterable[Path], on_file: Callable[[], None] | None = None
                    ) -> tuple[list[Posteriors], list[Skipped]]:
    """:class:`Posteriors` (hop :data:`HOP`) of every readable file; the others skipped."""
    done: list[Posteriors] = []
    skipped: list[Skipped] = []
    for f in files:
        try:
            emb, seconds, own = cache.get(f, clip)
        except KwspotError as exc:
            skipped.append(Skipped(str(f), str(exc)))
        else:
            probs = window_probs(head, emb, round(seconds * RATE), clip)
            done.append(Posteriors(str(f), probs, seconds, own))
        if on_file:
            on_file()
    return done, skipped
