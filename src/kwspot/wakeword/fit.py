"""The training step of ``kwspot wakeword``: embeddings of the synthetic clips (clean and
augmented, cached), of real recordings of other words (when given), windows of the training
part of the negative audio, then the head."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from kwspot.data.augment import AugmentConfig, WaveAugment
from kwspot.feature_bank import build_bank
from kwspot.progress import progress_bar
from kwspot.wakeword.config import WakewordConfig
from kwspot.wakeword.synthesis import SynthSets, noise_clips, read_clips
from kwspot.wakeword.training import TrainingSet, running_windows, train_head
from kwspot.wakeword.windows import RATE, EmbeddingCache

# Augmentation of synthetic clips before their embeddings are cached.
AUGMENT = AugmentConfig(shift_ms=150.0, noise_prob=0.6, noise_volume=0.5, gain_db=6.0,
                        speed=0.05)
NOISE_SECONDS = 600  # training negative audio (and synthetic noise) mixed into clips
OTHER_WORD_COPIES = 1  # augmented copies of each real recording of another word


def fit_head(net: torch.nn.Module, cfg: WakewordConfig, sets: SynthSets, labels: Sequence[str],
             cache: EmbeddingCache, train_files: Sequence[Path], out: Path,
             say: Callable[[str], None], progress: bool | None) -> None:
    """Train ``net.classifier`` in place (the embedding stays frozen)."""
    from kwspot.wakeword.other_words import (
        other_word_clips,
        other_word_files,
        with_telephone_copies,
    )

    pos, pos_words = read_clips(sets.positives, ["keyword"])
    neg, _ = read_clips(sets.negatives, ["unknown", "confusable"])
    others = with_telephone_copies(other_word_clips(
        other_word_files(cfg.other_words, cfg.phrases), sets.window, cfg.seed))
    index = {w: i for i, w in enumerate(labels)}
    noise_files = [*train_files, *noise_clips(sets.negatives)]
    augment = WaveAugment(AUGMENT, torch.from_numpy(_noise(noise_files, cfg.seed)))
    say(f"embedding {len(pos):,} phrase clips ({cfg.copies} augmented copies each), "
        f"{len(neg):,} synthetic negatives and {len(others):,} recordings of other words "
        "(cached)")
    banks = []
    # Synthetic negatives are many and varied already (running audio adds more): clean only.
    for name, waves, copies in (("phrases", pos, cfg.copies), ("negatives", neg, 0),
                                ("other words", others, OTHER_WORD_COPIES)):
        with progress_bar((copies + 1) * len(waves), f"embedding {name}",
                          enabled=progress) as advance:
            done = [0]

            def tick(n: int, _total: int, done: list[int] = done, advance=advance) -> None:
                advance(n - done[0])
                done[0] = n

            banks.append(build_bank(net.frontend, waves, augment, copies, seed=cfg.seed,
                                    cache_dir=out / "cache", progress=tick))
    say(f"cutting windows from {len(noise_files)} negative training file(s)")
    with progress_bar(len(noise_files), "negative windows", enabled=progress) as advance:
        running = running_windows(cache, noise_files, sets.window, cfg.seed, advance)
    data = TrainingSet(banks[0], torch.tensor([index[w] for w in pos_words]), banks[1],
                       running, index["unknown"], banks[2] if len(others) else None)
    say(f"training {_heads(cfg)}{cfg.model} for {cfg.iters} steps on {len(pos):,} phrase clips, "
        f"{len(neg):,} synthetic negatives, {len(others):,} recordings of other words and "
        f"{len(running):,} negative windows")
    heads = getattr(net.classifier, "members", [net.classifier])  # a HeadEnsemble's, or one
    with progress_bar(cfg.iters * len(heads), "training", enabled=progress) as advance:
        for k, head in enumerate(heads):  # each on its own batches
            train_head(head, data, iters=cfg.iters, batch_size=cfg.batch_size, lr=cfg.lr,
                       seed=cfg.seed + 1000 * k, progress=advance)
    net.eval()


def _heads(cfg: WakewordConfig) -> str:
    return f"{cfg.heads} heads of " if cfg.heads > 1 else ""


def _noise(files: Sequence[Path], seed: int) -> np.ndarray:
    """Up to :data:`NOISE_SECONDS` of float32 audio from ``files`` (in a seeded order)."""
    from kwspot.errors import KwspotError
    from kwspot.evaluate.posteriors import read_mono

    order = np.random.default_rng(seed).permutation(len(files))
    parts, total = [], 0
    for i in order:
        try:
            x, _ = read_mono(files[i], RATE)
        except KwspotError:
            continue
        parts.append(x[:NOISE_SECONDS * RATE - total])
        total += len(parts[-1])
        if total >= NOISE_SECONDS * RATE:
            break
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)
