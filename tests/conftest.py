"""Shared fixtures: the real Speech Commands clips beside the project, and small generated data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``$KWSPOT_TEST_DATA`` or ``../shared/data`` next to the repository."""
    return Path(os.environ.get("KWSPOT_TEST_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real clips folder; skips the test (saying why) when it is absent."""
    root = shared_data_dir()
    if not (root / "sc_v2_test_part").is_dir():
        pytest.skip(f"real Speech Commands clips not found at {root} (set KWSPOT_TEST_DATA)")
    return root


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
                  ) -> None:
    """Keep the decoded-audio cache out of the user's home during tests."""
    monkeypatch.setenv("KWSPOT_CACHE", str(tmp_path_factory.getbasetemp() / "kwspot-cache"))


def embedding_checkpoint(path: Path) -> Path:
    """An untrained ``emb_mlp`` over the pretrained embedding, for the 12 labels (the caller
    skips when ``pyopen_wakeword`` is not installed)."""
    import torch

    from kwspot.data.labels import LabelSet
    from kwspot.features import FrontendConfig
    from kwspot.network import build_net

    torch.manual_seed(0)
    labels = LabelSet().names
    cfg = FrontendConfig(kind="embedding")
    net = build_net("emb_mlp", len(labels), cfg).eval()
    torch.save({"format": "kwspot-checkpoint", "version": 1, "model": "emb_mlp",
                "model_kwargs": {}, "frontend": cfg.to_dict(), "labels": list(labels),
                "state_dict": net.state_dict(), "iteration": 0, "best_acc": 0.0}, path)
    return path


def write_wav(path: Path, samples: np.ndarray, sr: int = 16000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), samples, sr, subtype="PCM_16")
    return path


def make_tone_dataset(root: Path, words: tuple[str, ...] = ("yes", "no", "up"),
                      extra_words: tuple[str, ...] = ("bed", "cat"), speakers: int = 12,
                      per_speaker: int = 2, seed: int = 0) -> Path:
    """A tiny raw-layout dataset: each word is a tone of its own pitch (learnable), each
    speaker shifts it a little; plus ``_background_noise_``. Returns ``root``."""
    rng = np.random.default_rng(seed)
    t = np.arange(16000) / 16000
    all_words = words + extra_words
    for _ in range(speakers):
        spk = f"{rng.integers(16**8):08x}"
        for wi, w in enumerate(all_words):
            for k in range(per_speaker):
                f = 300 + 150 * wi + rng.uniform(-10, 10)
                env = np.exp(-((t - rng.uniform(0.4, 0.6)) ** 2) / 0.02)
                x = 0.5 * np.sin(2 * np.pi * f * t) * env + 0.01 * rng.standard_normal(16000)
                write_wav(root / w / f"{spk}_nohash_{k}.wav", (x * 32767).astype(np.int16))
    noise = (rng.standard_normal(16000 * 5) * 0.1 * 32767).astype(np.int16)
    write_wav(root / "_background_noise_" / "white.wav", noise)
    return root


@pytest.fixture
def tone_data(tmp_path: Path) -> Path:
    return make_tone_dataset(tmp_path / "tones")
