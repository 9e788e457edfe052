"""Features computed once per clip and per augmentation copy, for training a head fast.

With a frozen, costly front-end (the pretrained speech embedding) most of a training step
would go into recomputing the same features. A :class:`FeatureBank` holds, for every training
clip, the features of the clean clip and of ``copies`` augmented versions of it (shift,
noise, gain, speed: the run's :class:`~kwspot.data.augment.WaveAugment`); a training batch
takes one of them at random per clip and goes straight to the model. Banks are cached on disk
(``<cache>/features/<key>.npy``, float16, written atomically), keyed by the clips, the
front-end (settings and weights), the augmentation settings, the noise, the copies and the seed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from kwspot.data.augment import WaveAugment
from kwspot.data.cache import default_cache_dir
from kwspot.features import Frontend, int16_to_float

BANK_VERSION = 1


class FeatureBank:
    """Precomputed features ``[copies + 1, N, *shape]`` (copy 0: the clean clip)."""

    def __init__(self, feats: np.ndarray | Tensor) -> None:
        self.feats = torch.as_tensor(np.asarray(feats)) if isinstance(feats, np.ndarray) else feats

    @property
    def copies(self) -> int:
        return self.feats.shape[0] - 1

    def __len__(self) -> int:
        return self.feats.shape[1]

    def batch(self, idx: Tensor, generator: torch.Generator) -> Tensor:
        """Features of clips ``idx``, each from a random copy, float32 ``[B, *shape]``."""
        idx = idx.cpu()
        which = torch.randint(0, self.feats.shape[0], (len(idx),), generator=generator)
        return self.feats[which, idx].float()

    def clean(self, idx: Tensor) -> Tensor:
        return self.feats[0, idx.cpu()].float()


def build_bank(frontend: Frontend, waves: np.ndarray, augment: WaveAugment | None,
               copies: int, *, seed: int = 0, batch: int = 64,
               cache_dir: str | Path | None = None,
               progress: Callable[[int, int], None] | None = None) -> FeatureBank:
    """Features of int16 clips ``waves [N, T]``: clean and ``copies`` augmented versions.

    ``progress(done, total)`` is called after each batch. The result is read from the disk
    cache when the same bank was built before.
    """
    if copies < 0:
        raise ValueError(f"copies must be >= 0, got {copies}")
    augment = augment if copies else None
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    path = cache / "features" / f"{_key(frontend, waves, augment, copies, seed)}.npy"
    if path.is_file():
        try:
            return FeatureBank(np.load(path, mmap_mode="r"))
        except (OSError, ValueError):
            pass  # a damaged file is rebuilt
    feats = _compute(frontend, waves, augment, copies, seed, batch, progress)
    _save_atomic(feats, path)
    return FeatureBank(feats)


@torch.no_grad()
def _compute(frontend: Frontend, waves: np.ndarray, augment: WaveAugment | None, copies: int,
             seed: int, batch: int, progress: Callable[[int, int], None] | None) -> np.ndarray:
    was_training = frontend.training
    frontend.eval()
    device = next(iter(frontend.buffers()), torch.zeros(0)).device
    n = len(waves)
    shape = tuple(frontend(torch.zeros(1, waves.shape[1], device=device)).shape[1:])
    out = np.empty((copies + 1, n, *shape), np.float16)
    total, done = (copies + 1) * n, 0
    gen = torch.Generator(device=device)
    for copy in range(copies + 1):
        for i in range(0, n, batch):
            x = int16_to_float(torch.from_numpy(np.array(waves[i:i + batch])).to(device))
            if copy:
                gen.manual_seed(seed * 1_000_003 + copy * 10_007 + i)
                x = augment(x, gen)
            out[copy, i:i + len(x)] = frontend(x).cpu().numpy()
            done += len(x)
            if progress is not None:
                progress(done, total)
    frontend.train(was_training)
    return out


def _key(frontend: Frontend, waves: np.ndarray, augment: WaveAugment | None, copies: int,
         seed: int) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"v": BANK_VERSION, "frontend": frontend.cfg.to_dict(), "copies": copies,
                         "seed": seed, "shape": list(waves.shape),
                         "augment": asdict(augment.cfg) if augment is not None else None},
                        sort_keys=True).encode())
    h.update(np.ascontiguousarray(waves).tobytes())
    for t in frontend.state_dict().values():
        h.update(t.detach().cpu().numpy().tobytes())
    if augment is not None:
        h.update(augment.noise.cpu().numpy().tobytes())
    return h.hexdigest()[:24]


def _save_atomic(feats: np.ndarray, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npy")
        np.save(tmp, feats)
        os.replace(tmp, path)
    except OSError:
        pass  # an unwritable cache costs a recomputation next time
