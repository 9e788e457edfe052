"""DistributedDataParallel under ``torchrun``: read its environment, pick the backend.

``RANK`` (0 … world-1, over all machines) picks a process's share of the data; ``LOCAL_RANK``
(0 … processes on this machine - 1) picks its GPU. ``torchrun`` sets both, plus ``WORLD_SIZE``,
``MASTER_ADDR`` and ``MASTER_PORT``, which ``init_process_group`` reads.

Test hook: with ``KWSPOT_DEBUG_SHARDS=DIR`` in the environment every rank writes
``DIR/rank<R>.json`` at the end of training (the training indices it took at each iteration
and a digest of its final weights); see :class:`ShardRecorder`. Off and free otherwise.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn

from kwspot.errors import KwspotError

DEBUG_SHARDS_ENV = "KWSPOT_DEBUG_SHARDS"
T = TypeVar("T")


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0  # global rank: data sharding
    world_size: int = 1  # processes over all machines
    local_rank: int = 0  # rank on this machine: the GPU

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str) -> int:
    value = os.environ.get(name)
    if value is None or not value.strip().isdigit():
        raise KwspotError(f"${name}={value!r}: WORLD_SIZE > 1 needs RANK and LOCAL_RANK "
                          "(start the processes with torchrun)")
    return int(value)


def init_from_env(device_kind: str) -> DistInfo:
    """Join the process group when launched by torchrun (``WORLD_SIZE`` > 1): ``nccl`` on
    GPUs, ``gloo`` on the CPU. Without torchrun, a single-process DistInfo."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank, local = _env_int("RANK"), _env_int("LOCAL_RANK")
    if not dist.is_initialized():
        backend = "nccl" if device_kind == "cuda" else "gloo"
        if backend == "nccl":
            n_gpus = torch.cuda.device_count()
            if local >= n_gpus:
                raise KwspotError(f"LOCAL_RANK {local}: this machine shows {n_gpus} GPU(s); "
                                  f"start at most {n_gpus} processes per machine "
                                  "(torchrun's nproc_per_node)")
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend)
    return DistInfo(rank, world, local)


def all_reduce_sum(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum a tensor over ranks, in place (a no-op in a single process)."""
    if info.enabled:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def broadcast_buffers(module: nn.Module, info: DistInfo) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics, front-end normalisation) to every
    rank. Each rank updates its BatchNorm statistics from its own shard, so without this the
    ranks would validate slightly different models (DDP itself only re-broadcasts the
    classifier's buffers at its next forward)."""
    if info.enabled:
        for b in module.buffers():
            dist.broadcast(b, src=0)


def local_main_first(fn: Callable[[], T], info: DistInfo) -> T:
    """``fn()`` on each machine's local rank 0 first, then on the other ranks: the first run on
    a dataset decodes it into the shared cache once per machine, not once per process (every
    copy would hold the whole decoded dataset in memory at the same time). A user error there
    stops every rank with a one-line KwspotError instead of leaving them waiting."""
    if not info.enabled:
        return fn()
    error: KwspotError | None = None
    if info.local_rank == 0:
        try:
            result = fn()
        except KwspotError as exc:
            error = exc
    if _any_rank(error is not None, info):
        raise error or KwspotError("another process could not load the data (see its error)")
    if info.local_rank != 0:
        result = fn()
    return result


def _any_rank(flag: bool, info: DistInfo) -> bool:
    """Whether ``flag`` is true on any rank (a collective: every rank must call it)."""
    device = f"cuda:{info.local_rank}" if dist.get_backend() == "nccl" else "cpu"
    t = torch.tensor([float(flag)], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return bool(t.item() > 0)


def shutdown(info: DistInfo, clean: bool = False) -> None:
    """Leave the process group. After a clean finish all ranks meet at a barrier first, so
    no rank tears gloo down while a peer still uses it (that aborted a rank now and then);
    after an error there is no barrier, which could wait forever on a rank that is gone."""
    if info.enabled and dist.is_initialized():
        if clean:
            dist.barrier()
        dist.destroy_process_group()


def state_digest(state: dict[str, Tensor]) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of a state dict (key order)."""
    h = hashlib.sha256()
    for name, t in state.items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


@dataclass
class ShardRecorder:
    """Test hook (``$KWSPOT_DEBUG_SHARDS``): the indices each rank trained on, per iteration,
    and the digest of its final weights, written to ``DIR/rank<R>.json``."""

    folder: Path | None
    info: DistInfo
    steps: dict[int, list[int]] = field(default_factory=dict)

    @classmethod
    def from_env(cls, info: DistInfo) -> ShardRecorder:
        folder = os.environ.get(DEBUG_SHARDS_ENV)
        return cls(Path(folder) if folder else None, info)

    def add(self, it: int, idx: Tensor) -> None:
        if self.folder is not None:
            self.steps[it] = idx.tolist()

    def write(self, net: nn.Module) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        record = {"rank": self.info.rank, "world_size": self.info.world_size,
                  "local_rank": self.info.local_rank, "steps": self.steps,
                  "state_digest": state_digest(net.state_dict())}
        path = self.folder / f"rank{self.info.rank}.json"
        path.write_text(json.dumps(record), encoding="utf-8")
