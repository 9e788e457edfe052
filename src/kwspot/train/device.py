"""Which device a run trains on, and the settings that only make sense on some devices."""

from __future__ import annotations

import torch

from kwspot.distributed import DistInfo
from kwspot.errors import KwspotError


def device_kind(name: str) -> str:
    """``cuda`` or ``cpu``: the kind of device the setting ``name`` picks (before torchrun)."""
    if name.startswith("cuda") or (name == "auto" and torch.cuda.is_available()):
        return "cuda"
    return "cpu"


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` → the GPU when there is one (this rank's under torchrun), else the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        name = f"cuda:{local_rank}"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise KwspotError(f"--device {name}: no CUDA GPU is available")
    try:
        return torch.device(name)
    except RuntimeError:
        raise KwspotError(f"--device {name!r} is not a device name (cpu, cuda, cuda:N)") from None


def check_distributed(name: str, sync_bn: bool, device: torch.device, dist: DistInfo) -> None:
    """Refuse device settings that cannot work under torchrun."""
    if dist.enabled and name.startswith("cuda:"):
        raise KwspotError(f"--device {name}: under torchrun each process takes the GPU of "
                          "its LOCAL_RANK; use --device cuda (pick GPUs with CUDA_VISIBLE_DEVICES)")
    if dist.enabled and sync_bn and device.type != "cuda":
        raise KwspotError("--sync-bn: torch's SyncBatchNorm runs on GPUs only; "
                          "leave it out when training on the CPU")
