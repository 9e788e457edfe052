"""Features computed once per clip and per augmentation copy, for training a head fast.

With a frozen, costly front-end (the pretrained speech embedding) most of a training step
would go into recomputing the same features. A :class:`FeatureBank` holds, for every training
clip, the features of the clean clip and of ``copies`` augmented versions of it (shift,
noise, gain, speed: the run's :class:`~kwspot.data.augment.WaveAugment`, each copy drawn from
a generator seeded by the clip's content, the copy and the seed); a training batch takes one
of them at random per clip and goes straight to the model.

The features are cached on disk per clip, ``<cache>/features/<settings>/<clip>.npy`` (float16,
written atomically): ``<settings>`` hashes the front-end (settings and weights), the
augmentation settings and noise, the copies and the seed; ``<clip>`` hashes the clip's
samples. A run that shares clips with an earlier one (the real clips of a real + synthetic
run, a longer run on the same data) computes only the clips it has not seen.
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
from torch import Tensor, nn

from kwspot.data.augment import WaveAugment
from kwspot.data.cache import default_cache_dir
from kwspot.features import Frontend, int16_to_float

BANK_VERSION = 2


class FeatureBank:
    """Precomputed features ``[copies + 1, N, *shape]`` (copy 0: the clean clip)."""

    def __init__(self, feats: np.ndarray | Tensor) -> None:
        self.feats = torch.as_tensor(feats)

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

    Clips already in the disk cache are read from it; ``progress(done, total)`` follows the
    computation of the others.
    """
    if copies < 0:
        raise ValueError(f"copies must be >= 0, got {copies}")
    augment = augment if copies else None
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    folder = cache / "features" / _settings_key(frontend, waves.shape[1], augment, copies, seed)
    keys = [hashlib.sha1(np.ascontiguousarray(w).tobytes()).hexdigest()[:20] for w in waves]
    shape = _feature_shape(frontend, waves.shape[1])
    out = np.empty((copies + 1, len(waves), *shape), np.float16)
    todo = []
    for i, key in enumerate(keys):
        try:
            out[:, i] = np.load(folder / f"{key}.npy")
        except (OSError, ValueError):
            todo.append(i)
    was_training = frontend.training
    frontend.eval()
    try:
        runner = _Runner(frontend, waves.shape[1]) if todo else None
        for start in range(0, len(todo), batch):
            chunk = todo[start:start + batch]
            feats = _compute(frontend, waves[chunk], [keys[i] for i in chunk], augment, copies,
                             seed, runner)
            out[:, chunk] = feats
            for j, i in enumerate(chunk):
                _save_atomic(feats[:, j], folder / f"{keys[i]}.npy")
            if progress is not None:
                progress(start + len(chunk), len(todo))
    finally:
        frontend.train(was_training)
    return FeatureBank(out)


def _feature_shape(frontend: Frontend, samples: int) -> tuple[int, ...]:
    device = next(iter(frontend.buffers()), torch.zeros(0)).device
    with torch.no_grad():
        return tuple(frontend.frozen_stage(torch.zeros(1, samples, device=device)).shape[1:])


class _FrozenStage(nn.Module):
    """The front-end's :meth:`~kwspot.features.Frontend.frozen_stage`, as a module to export."""

    def __init__(self, frontend: Frontend) -> None:
        super().__init__()
        self.frontend = frontend

    def forward(self, wave: Tensor) -> Tensor:
        return self.frontend.frozen_stage(wave)


class _Runner:
    """The front-end's frozen stage in eval mode: on a CPU through onnxruntime (its exported
    graph, 3-4× faster than PyTorch's convolutions at these sizes), else PyTorch."""

    def __init__(self, frontend: Frontend, samples: int) -> None:
        self.stage = _FrozenStage(frontend)
        self.session = None
        device = next(iter(frontend.buffers()), torch.zeros(0)).device
        if device.type == "cpu":
            self.session = _onnx_session(self.stage, samples)

    @torch.no_grad()
    def __call__(self, x: Tensor) -> np.ndarray:
        if self.session is None or len(x) == 0:
            return self.stage(x).cpu().numpy()
        return self.session.run(None, {"audio": x.numpy()})[0]


def _onnx_session(frontend: nn.Module, samples: int):  # noqa: ANN202 (an InferenceSession)
    import tempfile
    import warnings

    try:
        import onnxruntime as ort
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = Path(tmp) / "frontend.onnx"
        torch.onnx.export(frontend, (torch.zeros(2, samples),), str(path), dynamo=False,
                          input_names=["audio"], dynamic_axes={"audio": {0: "batch"}})
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = torch.get_num_threads()
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


@torch.no_grad()
def _compute(frontend: Frontend, waves: np.ndarray, keys: list[str],
             augment: WaveAugment | None, copies: int, seed: int,
             runner: _Runner) -> np.ndarray:
    """``[copies + 1, len(waves), *shape]`` features; copy ``c`` of a clip is augmented with a
    generator seeded by ``(seed, clip, c)``, so it does not depend on the batch it is in."""
    device = next(iter(frontend.buffers()), torch.zeros(0)).device
    x = int16_to_float(torch.from_numpy(np.array(waves)).to(device))
    outs = [runner(x)]
    gen = torch.Generator(device=device)
    for copy in range(1, copies + 1):
        aug = []
        for clip, key in zip(x, keys, strict=True):
            gen.manual_seed((seed * 1_000_003 + copy * 10_007 + int(key[:12], 16)) % 2**62)
            aug.append(augment(clip[None], gen))
        outs.append(runner(torch.cat(aug)))
    return np.stack(outs).astype(np.float16)


def _settings_key(frontend: Frontend, samples: int, augment: WaveAugment | None, copies: int,
                  seed: int) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"v": BANK_VERSION, "frontend": frontend.cfg.to_dict(), "copies": copies,
                         "seed": seed, "samples": samples,
                         "augment": asdict(augment.cfg) if augment is not None else None},
                        sort_keys=True).encode())
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
