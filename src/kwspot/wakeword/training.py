"""Training a head over the frozen speech embedding, on embeddings computed once.

Batches are half phrase clips (a random augmented copy of each, see
:class:`~kwspot.feature_bank.FeatureBank`) and half negatives: synthetic sound-alikes and other
words, windows of running speech and noise from the training part of the negative audio, and
real recordings of other words when given (:data:`OTHER_WORDS_SHARE` of the negatives).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from kwspot.feature_bank import FeatureBank
from kwspot.wakeword.windows import EmbeddingCache, frames_per_window

MAX_RUNNING_WINDOWS = 40_000  # running-audio windows kept for training (every other hop)
OTHER_WORDS_SHARE = 0.25  # of a batch's negatives, when real recordings of other words are given


@dataclass
class TrainingSet:
    positives: FeatureBank  # [copies + 1, N, 1, 96, E]
    positive_labels: Tensor  # class of each positive clip
    synthetic_negatives: FeatureBank
    running: Tensor  # [M, 1, 96, E] windows of negative audio (may be empty)
    unknown: int  # the class of everything that is not a phrase
    other_words: FeatureBank | None = None  # real recordings of other words (may be absent)


def running_windows(cache: EmbeddingCache, files: Sequence[Path], clip: int, seed: int,
                    on_file: Callable[[], None] | None = None) -> Tensor:
    """Windows (every other hop) of the negative files, at most :data:`MAX_RUNNING_WINDOWS`,
    float16 ``[M, 1, 96, E]``; unreadable files are left out."""
    from kwspot.errors import KwspotError

    frames = frames_per_window(clip)
    parts = []
    for f in files:
        try:
            emb, _, _ = cache.get(f, clip)
        except KwspotError:
            emb = None
        if emb is not None and len(emb) > frames:
            e = torch.from_numpy(np.ascontiguousarray(emb[1:]))
            parts.append(e.unfold(0, frames, 1)[::2])  # [n, 96, E]
        if on_file:
            on_file()
    if not parts:
        return torch.zeros(0, 1, 96, frames, dtype=torch.float16)
    allw = torch.cat(parts)
    if len(allw) > MAX_RUNNING_WINDOWS:
        g = torch.Generator().manual_seed(seed)
        allw = allw[torch.randperm(len(allw), generator=g)[:MAX_RUNNING_WINDOWS]]
    return allw[:, None].contiguous()


def train_head(head: nn.Module, data: TrainingSet, *, iters: int, batch_size: int, lr: float,
               seed: int, progress: Callable[[int], None] | None = None) -> nn.Module:
    """AdamW with a cosine schedule on balanced batches; returns ``head`` in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW([p for p in head.parameters() if p.requires_grad], lr=lr,
                            weight_decay=1e-2)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    n_pos = batch_size // 2
    others = data.other_words if data.other_words is not None and len(data.other_words) else None
    n_other = round((batch_size - n_pos) * OTHER_WORDS_SHARE) if others is not None else 0
    n_run = (batch_size - n_pos - n_other) // 2 if len(data.running) else 0
    n_syn = batch_size - n_pos - n_other - n_run
    head.train()
    for it in range(iters):
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * it / iters))
        ip = torch.randint(len(data.positives), (n_pos,), generator=gen)
        isn = torch.randint(len(data.synthetic_negatives), (n_syn,), generator=gen)
        xs = [data.positives.batch(ip, gen), data.synthetic_negatives.batch(isn, gen)]
        if n_run:
            ir = torch.randint(len(data.running), (n_run,), generator=gen)
            xs.append(data.running[ir].float())
        if others is not None:
            xs.append(others.batch(torch.randint(len(others), (n_other,), generator=gen), gen))
        y = torch.cat([data.positive_labels[ip],
                       torch.full((batch_size - n_pos,), data.unknown, dtype=torch.long)])
        loss = loss_fn(head(torch.cat(xs)), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress is not None:
            progress(1)
    return head.eval()
