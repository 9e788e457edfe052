"""Device names (``auto``, ``cpu``, ``cuda``, ``cuda:N``) → torch devices."""

from __future__ import annotations

import torch

from kwspot.errors import SettingError

DEVICE_NAMES = "auto, cpu, cuda, cuda:N"


def torch_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` → the GPU when there is one (``local_rank``'s under torchrun), else the CPU;
    ``cuda`` → GPU ``local_rank``. A name that is not a device, or a GPU that is not there,
    is a :class:`SettingError` of ``device``."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        name = f"cuda:{local_rank}"
    if not (name == "cpu" or name.startswith("cuda:")):
        raise SettingError("device", f"{name!r} is not a device ({DEVICE_NAMES})")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise SettingError("device", f"{name!r} is not a device ({DEVICE_NAMES})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SettingError("device", f"{name}: no CUDA GPU is available")
    return device
