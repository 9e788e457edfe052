"""Where the training loop's batches come from.

The seam: the loop asks a :class:`BatchSource` for the batch of each iteration,
``next_batch(iteration) -> (inputs, labels)``, and hands it to the training step with the
source's ``kind``:

* ``"waves"``: int16 clips ``[B, T]``; the step augments them and runs the front-end
  (:class:`WaveBatches`, the clips kept on the training device: today's path);
* ``"features"``: the front-end's output, computed beforehand, e.g. a frozen pretrained
  front-end's embeddings, computed once per clip and per augmentation copy and cached; the
  step skips augmentation and front-end and trains the classifier on them (after SpecAugment
  and mixup when the recipe asks for them). :class:`FeatureBatches` holds such a cache.

Both draw their indices from :class:`IndexSampler`, so batch order depends only on
``(seed, epoch)`` and a resumed run continues exactly; under torchrun rank ``r`` of ``w``
takes every ``w``-th index of each global batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

import torch
from torch import Tensor

from kwspot.distributed import DistInfo
from kwspot.errors import SettingError

InputKind = Literal["waves", "features"]


class IndexSampler:
    """Global batches of training indices: a fresh permutation per epoch from ``(seed, epoch)``,
    last partial batch dropped; rank ``r`` of ``w`` takes every ``w``-th index of a batch."""

    def __init__(self, n: int, batch: int, seed: int, dist: DistInfo | None = None) -> None:
        dist = dist or DistInfo()
        if batch > n:
            raise SettingError("batch_size", f"{batch} is larger than the training split "
                                             f"({n} clips)")
        if batch % dist.world_size:
            raise SettingError("batch_size", f"{batch} must be divisible by the number of "
                                             f"processes ({dist.world_size})")
        self.n, self.batch, self.seed, self.dist = n, batch, seed, dist
        self.per_epoch = n // batch
        self._epoch, self._perm = -1, torch.empty(0, dtype=torch.long)

    def epoch_of(self, it: int) -> int:
        return it // self.per_epoch

    def indices(self, it: int) -> Tensor:
        """This rank's share of the global batch of iteration ``it`` (0-based)."""
        epoch, k = divmod(it, self.per_epoch)
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 10_007 + epoch)
            self._perm, self._epoch = torch.randperm(self.n, generator=g), epoch
        batch = self._perm[k * self.batch:(k + 1) * self.batch]
        return batch[self.dist.rank::self.dist.world_size]


class BatchSource(Protocol):
    """What the training loop draws its batches from."""

    kind: InputKind
    size: int  # training examples per epoch

    def next_batch(self, it: int) -> tuple[Tensor, Tensor]:
        """``(inputs, labels)`` of iteration ``it``, on the training device."""
        ...


class WaveBatches:
    """int16 clips ``[N, T]`` and labels ``[N]`` held on the training device."""

    kind: InputKind = "waves"

    def __init__(self, waves: Tensor, labels: Tensor, sampler: IndexSampler,
                 on_indices: Callable[[int, Tensor], None] | None = None) -> None:
        self.waves, self.labels, self.sampler = waves, labels, sampler
        self.size = len(labels)
        self.on_indices = on_indices  # sees each iteration's indices (a test hook)

    def next_batch(self, it: int) -> tuple[Tensor, Tensor]:
        idx = self.sampler.indices(it).to(self.labels.device)
        if self.on_indices is not None:
            self.on_indices(it, idx)
        return self.waves[idx], self.labels[idx]


class FeatureBatches:
    """Precomputed features ``[copies, N, ...]`` (one copy per augmentation draw) and labels
    ``[N]``; epoch ``e`` reads copy ``e % copies``."""

    kind: InputKind = "features"

    def __init__(self, features: Tensor, labels: Tensor, sampler: IndexSampler) -> None:
        if features.shape[1] != len(labels):
            raise ValueError(f"features hold {features.shape[1]} examples, labels {len(labels)}")
        self.features, self.labels, self.sampler = features, labels, sampler
        self.size = len(labels)

    def next_batch(self, it: int) -> tuple[Tensor, Tensor]:
        idx = self.sampler.indices(it).to(self.labels.device)
        copy = self.sampler.epoch_of(it) % self.features.shape[0]
        return self.features[copy][idx], self.labels[idx]
