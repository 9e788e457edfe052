"""Small heads over the pretrained speech embedding (front-end ``embedding``).

Input ``[B, 1, 96, E]``: one 96-d openWakeWord embedding every 80 ms (E = 15 for a 1-s clip
padded by 0.5 s on each side; any E ≥ 1 works). Each head starts with a batch norm over the 96
dimensions, since the embedding's values are not centred.

* ``emb_mlp``: a per-frame MLP (96 → width → width), then mean and max over frames → classes.
* ``emb_conv``: two temporal convolutions (kernel 3) with BN + ReLU, mean and max over frames.
* ``emb_gru``: a bidirectional GRU over the frames, mean and max over its outputs.

Each takes ``members`` (default 1): with more, the model is a :class:`HeadEnsemble` of that
many heads of the kind, trained each on its own (``kwspot wakeword``, ``kwspot ensemble``) and
averaged; ``member_embeddings`` then says which channel of the input (which copy of the
embedding, for models whose embeddings were fine-tuned apart) each head reads.

Recipes assume the embedding stays frozen, so training touches only the head (a few thousand
clips train in about a minute on a CPU when the embeddings are precomputed).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from kwspot.models.registry import register_model

EMB_DIM = 96
PAPER = ("openWakeWord's speech embedding (D. Scripka, github.com/dscripka/openWakeWord), "
         "a frozen Google speech-embedding-style model; heads: kwspot")
# Chosen on the validation speakers of sc_v2_test_part: augmented copies of each clip helped
# (4 copies: +3 points over clean clips only), mixup hurt; 2 copies keep the one-time
# embedding cost of a few thousand clips within minutes on a 2-core CPU.
_RECIPE: dict[str, Any] = {
    "iters": 1500, "batch_size": 128, "optimizer": "adamw", "lr": 2e-3, "weight_decay": 1e-2,
    "schedule": "cosine", "warmup_iters": 100, "label_smoothing": 0.1, "mixup": 0.0,
    "spec_time_masks": 0, "spec_freq_masks": 0, "gain_db": 6.0, "speed": 0.1,
    "feature_copies": 2, "log_every": 250,
}


def _pool(x: Tensor) -> Tensor:
    """``[B, C, E]`` → mean and max over frames, ``[B, 2C]``."""
    return torch.cat([x.mean(dim=2), x.amax(dim=2)], dim=1)


class _PooledFrameHead(nn.Module):
    """Normalised embeddings → a per-frame stack → mean+max pooling → linear classifier."""

    def __init__(self, frames: nn.Module, width: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(EMB_DIM)
        self.frames = frames
        self.out = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * width, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.out(_pool(self.frames(self.norm(x.squeeze(1)))))


class EmbeddingMLP(_PooledFrameHead):
    def __init__(self, num_classes: int, width: int = 128, dropout: float = 0.2) -> None:
        super().__init__(nn.Sequential(
            nn.Conv1d(EMB_DIM, width, 1), nn.ReLU(), nn.Dropout(dropout),
            nn.Conv1d(width, width, 1), nn.ReLU()), width, num_classes, dropout)


class EmbeddingConv(_PooledFrameHead):
    def __init__(self, num_classes: int, width: int = 128, dropout: float = 0.2) -> None:
        layers: list[nn.Module] = []
        for cin in (EMB_DIM, width):
            layers += [nn.Conv1d(cin, width, 3, padding=1, bias=False), nn.BatchNorm1d(width),
                       nn.ReLU()]
        super().__init__(nn.Sequential(*layers), width, num_classes, dropout)


class EmbeddingGRU(nn.Module):
    def __init__(self, num_classes: int, hidden: int = 64, dropout: float = 0.2) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(EMB_DIM)
        self.gru = nn.GRU(EMB_DIM, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Sequential(nn.Dropout(dropout), nn.Linear(4 * hidden, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        seq, _ = self.gru(self.norm(x.squeeze(1)).transpose(1, 2))  # [B, E, 2H]
        return self.out(_pool(seq.transpose(1, 2)))


class HeadEnsemble(nn.Module):
    """Several heads of one kind; the output is the log of their mean class probabilities, so a
    softmax of it gives the mean probabilities (what the detector thresholds). Head ``i`` reads
    channel ``sources[i]`` of the input ``[B, copies, 96, E]`` (default: channel 0)."""

    def __init__(self, members: list[nn.Module], sources: list[int] | None = None) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.sources = list(sources) if sources is not None else [0] * len(members)
        if len(self.sources) != len(members) or min(self.sources) < 0:
            raise ValueError(f"member_embeddings must give a channel >= 0 for each of the "
                             f"{len(members)} heads, got {self.sources}")

    def forward(self, x: Tensor) -> Tensor:
        probs = torch.stack([torch.softmax(m(x[:, c:c + 1]), dim=1)
                             for m, c in zip(self.members, self.sources, strict=True)])
        return torch.log(probs.mean(dim=0).clamp_min(1e-12))


def _heads(make: Any, num_classes: int, members: int, member_embeddings: list[int] | None,
           kw: dict[str, Any]) -> nn.Module:
    if members < 1:
        raise ValueError(f"members must be >= 1, got {members}")
    if members == 1 and not any(member_embeddings or ()):
        return make(num_classes, **kw)
    return HeadEnsemble([make(num_classes, **kw) for _ in range(members)], member_embeddings)


@register_model("emb_mlp", frontend="embedding", recommended=_RECIPE, paper=PAPER)
def emb_mlp(num_classes: int, members: int = 1, member_embeddings: list[int] | None = None,
            **kw: Any) -> nn.Module:
    return _heads(EmbeddingMLP, num_classes, members, member_embeddings, kw)


@register_model("emb_conv", frontend="embedding", recommended=_RECIPE, paper=PAPER)
def emb_conv(num_classes: int, members: int = 1, member_embeddings: list[int] | None = None,
             **kw: Any) -> nn.Module:
    return _heads(EmbeddingConv, num_classes, members, member_embeddings, kw)


@register_model("emb_gru", frontend="embedding", recommended=_RECIPE, paper=PAPER)
def emb_gru(num_classes: int, members: int = 1, member_embeddings: list[int] | None = None,
            **kw: Any) -> nn.Module:
    return _heads(EmbeddingGRU, num_classes, members, member_embeddings, kw)
