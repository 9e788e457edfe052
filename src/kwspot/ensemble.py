"""Several trained heads over the speech embedding become one model that averages them.

Models whose factory takes ``members`` (the heads over the speech embedding) are built as a
:class:`~kwspot.models.embedding_heads.HeadEnsemble` when ``members > 1``: the output is the
log of the heads' mean class probabilities. :func:`combine_heads` makes such a checkpoint from
checkpoints trained apart (e.g. one with synthesized sound-alikes as negatives and one without,
or one whose embedding was fine-tuned) — same model, labels and front-end settings, and the
same split where they trained on the same data (the first checkpoint's split is the
ensemble's). Heads over the same embedding weights (a frozen embedding) share one copy of it;
each distinct set of weights (a fine-tuned embedding) becomes a copy of its own
(``embedding_copies``), computed from the one mel spectrogram, and its heads read that copy.
The result is an ordinary checkpoint: ``evaluate``, ``export``, ``score --calibrate``,
``detect`` and ``listen`` take it as they take any; its detection thresholds must be
calibrated afresh.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import torch

from kwspot import models
from kwspot.checkpoint import Checkpoint
from kwspot.errors import KwspotError

# Training settings that decide which clips are the validation and testing speakers.
SPLIT_SETTINGS = ("data", "words", "split", "val_pct", "test_pct", "split_salt", "split_offset")
# Front-end settings that only steer training (how much of the embedding was tuned), or that
# an ensemble sets (how many copies of the embedding it holds).
_NOT_COMPARED = ("embedding_lr_scale", "embedding_tune_layers", "embedding_copies")
# Weight names of the embedding's copy 0 and the prefix of the others'.
_EMBEDDING = "frontend.embedding.embedding."
_MORE_EMBEDDINGS = "frontend.embedding.more_embeddings."


def combine_heads(checkpoints: list[Checkpoint]) -> Checkpoint:
    """One checkpoint whose model averages the heads of ``checkpoints`` (a member that is
    itself an ensemble contributes each of its heads); problems are one-line KwspotErrors
    naming the checkpoint."""
    if len(checkpoints) < 2:
        raise KwspotError("an ensemble needs at least 2 checkpoints")
    first = checkpoints[0]
    if "members" not in inspect.signature(models.get_spec(first.model).builder).parameters:
        raise KwspotError(f"{first.path}: model {first.model!r} has no ensemble form; only "
                          f"the heads over the speech embedding do "
                          f"({', '.join(models.list_models('emb_*'))})")
    shared = _shared_weights(first)
    for c in checkpoints[1:]:
        _check_same(first, shared, c)
    copies: list[dict[str, torch.Tensor]] = []  # distinct embedding weights, in copy order
    heads, sources = [], []
    for c in checkpoints:
        own = _embedding_copies(c)
        for head, source in zip(_heads_of(c), _sources_of(c), strict=True):
            heads.append(head)
            sources.append(_index_of(own[source], copies))
    weights = dict(shared)
    for i, copy in enumerate(copies):
        prefix = _EMBEDDING if i == 0 else f"{_MORE_EMBEDDINGS}{i - 1}."
        weights.update({prefix + k: v for k, v in copy.items()})
    for i, head in enumerate(heads):
        weights.update({f"classifier.members.{i}.{k}": v for k, v in head.items()})
    kwargs: dict[str, Any] = {**_own_kwargs(first), "members": len(heads)}
    if len(copies) > 1:
        kwargs["member_embeddings"] = sources
    config = {**first.config, "ensemble_of": [c.path for c in checkpoints]}
    return Checkpoint(model=first.model, labels=list(first.labels),
                      frontend={**first.frontend, "embedding_copies": len(copies),
                                "embedding_lr_scale": 0.0},  # inference only: nothing tuned
                      weights=weights, model_kwargs=kwargs, sample_rate=first.sample_rate,
                      clip_samples=first.clip_samples, config=config)


def combine_files(paths: list[Path | str], out: Path | str, *, overwrite: bool = False
                  ) -> Checkpoint:
    """:func:`combine_heads` of checkpoint files (or run folders), written atomically to
    ``out``; an existing ``out`` is replaced only when ``overwrite``. The result is checked by
    rebuilding its network."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise KwspotError(f"{out}: exists; replace it with `overwrite`")
    combined = combine_heads([Checkpoint.load(p) for p in paths])
    combined.path = str(out)
    combined.build_net()
    combined.save(out)
    return combined


def _check_same(first: Checkpoint, first_shared: dict[str, torch.Tensor],
                other: Checkpoint) -> None:
    where = other.path
    if other.model != first.model:
        raise KwspotError(f"{where}: model {other.model!r} differs from {first.path}'s "
                          f"{first.model!r}; an ensemble's heads are of one model")
    if other.labels != first.labels:
        raise KwspotError(f"{where}: labels ({','.join(other.labels)}) differ from "
                          f"{first.path}'s ({','.join(first.labels)})")
    if _own_kwargs(other) != _own_kwargs(first):
        raise KwspotError(f"{where}: model settings {_own_kwargs(other)} differ from "
                          f"{first.path}'s {_own_kwargs(first)}")
    if _frontend(other) != _frontend(first) or (other.sample_rate, other.clip_samples) != (
            first.sample_rate, first.clip_samples):
        raise KwspotError(f"{where}: front-end settings differ from {first.path}'s")
    a, b = first_shared, _shared_weights(other)
    if a.keys() != b.keys() or any(not torch.equal(a[k], b[k]) for k in a):
        raise KwspotError(f"{where}: front-end weights other than the embedding's (its mel "
                          f"spectrogram) differ from {first.path}'s; the models must use "
                          "the same speech-embedding model files")
    if other.config.get("data") != first.config.get("data"):
        return  # other data (e.g. synthetic speech): the first's split stays the ensemble's
    for key in SPLIT_SETTINGS:
        if other.config.get(key) != first.config.get(key):
            raise KwspotError(f"{where}: trained on another split of the same data ({key} "
                              f"{other.config.get(key)!r}, {first.path}: "
                              f"{first.config.get(key)!r}); the ensemble's testing speakers "
                              "would include speakers one of its heads trained on")


def _heads_of(c: Checkpoint) -> list[dict[str, torch.Tensor]]:
    """The classifier weights of each head of ``c`` (prefix ``classifier.`` removed)."""
    n = int(c.model_kwargs.get("members", 1))
    cls = {k.removeprefix("classifier."): v for k, v in c.weights.items()
           if k.startswith("classifier.")}
    if n == 1:
        return [cls]
    return [{k.removeprefix(f"members.{i}."): v for k, v in cls.items()
             if k.startswith(f"members.{i}.")} for i in range(n)]


def _shared_weights(c: Checkpoint) -> dict[str, torch.Tensor]:
    """The front-end weights all copies of the embedding share (the mel spectrogram's)."""
    return {k: v for k, v in c.weights.items() if not k.startswith("classifier.")
            and not k.startswith((_EMBEDDING, _MORE_EMBEDDINGS))}


def _embedding_copies(c: Checkpoint) -> list[dict[str, torch.Tensor]]:
    """The weights of each copy of the embedding in ``c`` (prefixes removed)."""
    n = int(c.frontend.get("embedding_copies", 1))
    prefixes = [_EMBEDDING, *(f"{_MORE_EMBEDDINGS}{j}." for j in range(n - 1))]
    return [{k.removeprefix(p): v for k, v in c.weights.items() if k.startswith(p)}
            for p in prefixes]


def _sources_of(c: Checkpoint) -> list[int]:
    """The copy of the embedding each head of ``c`` reads."""
    n = int(c.model_kwargs.get("members", 1))
    return list(c.model_kwargs.get("member_embeddings") or [0] * n)


def _index_of(copy: dict[str, torch.Tensor], copies: list[dict[str, torch.Tensor]]) -> int:
    """The index of ``copy`` in ``copies`` (equal weights), appended when new."""
    for i, known in enumerate(copies):
        if known.keys() == copy.keys() and all(torch.equal(known[k], copy[k]) for k in known):
            return i
    copies.append(copy)
    return len(copies) - 1


def _own_kwargs(c: Checkpoint) -> dict[str, Any]:
    return {k: v for k, v in c.model_kwargs.items() if k not in ("members", "member_embeddings")}


def _frontend(c: Checkpoint) -> dict[str, Any]:
    return {k: v for k, v in c.frontend.items() if k not in _NOT_COMPARED}
