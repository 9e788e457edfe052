"""Which device a run trains on, and the settings that only make sense on some devices."""

from __future__ import annotations

import torch

from kwspot.devices import torch_device
from kwspot.distributed import DistInfo
from kwspot.errors import SettingError


def device_kind(name: str) -> str:
    """``cuda`` or ``cpu``: the kind of device the setting ``name`` picks (before torchrun)."""
    if name.startswith("cuda") or (name == "auto" and torch.cuda.is_available()):
        return "cuda"
    return "cpu"


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """The training device (see :func:`kwspot.devices.torch_device`)."""
    return torch_device(name, local_rank)


def check_distributed(name: str, sync_bn: bool, device: torch.device, dist: DistInfo) -> None:
    """Refuse device settings that cannot work under torchrun."""
    if dist.enabled and name.startswith("cuda:"):
        raise SettingError("device", f"{name}: under torchrun each process takes the GPU of its "
                           "LOCAL_RANK; use cuda (pick GPUs with CUDA_VISIBLE_DEVICES)")
    if dist.enabled and sync_bn and device.type != "cuda":
        raise SettingError("sync_bn", "torch's SyncBatchNorm runs on GPUs only; leave it out "
                           "when training on the CPU")
