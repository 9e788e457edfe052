"""Self-describing checkpoints, written atomically (temporary file + rename).

A checkpoint holds everything needed to rebuild the model and its front-end (model name and
kwargs, front-end parameters, label list) plus the training state for ``--resume``
(optimizer, iteration, data position, RNG state, config, elapsed time, best accuracy).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from kwspot.errors import KwspotError
from kwspot.features import FrontendConfig
from kwspot.network import KwsNet, build_net

FORMAT = "kwspot-checkpoint"
VERSION = 1


def save_atomic(obj: Any, path: Path | str) -> None:
    """``torch.save`` to a temporary file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def load_checkpoint(path: Path | str) -> dict[str, Any]:
    """Load and check a kwspot checkpoint; problems become one-line KwspotErrors."""
    path = Path(path)
    if path.is_dir():
        path = path / "best.pt" if (path / "best.pt").is_file() else path / "last.pt"
    if not path.is_file():
        raise KwspotError(f"{path}: no such checkpoint")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for truncated/foreign files
        raise KwspotError(f"{path}: not a readable checkpoint ({type(exc).__name__})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise KwspotError(f"{path}: not a kwspot checkpoint")
    if ckpt.get("version", 0) > VERSION:
        raise KwspotError(f"{path}: checkpoint format {ckpt['version']} is newer than this "
                          f"kwspot understands ({VERSION}); upgrade kwspot")
    ckpt["path"] = str(path)
    return ckpt


def net_from_checkpoint(ckpt: dict[str, Any], *, weights: str = "state_dict") -> KwsNet:
    """Rebuild the network of a checkpoint with its weights, in eval mode."""
    net = build_net(ckpt["model"], len(ckpt["labels"]), FrontendConfig.from_dict(ckpt["frontend"]),
                    ckpt.get("model_kwargs"), pretrained=False)
    try:
        net.load_state_dict(ckpt[weights])
    except RuntimeError as exc:
        raise KwspotError(f"{ckpt.get('path', 'checkpoint')}: weights do not fit model "
                          f"{ckpt['model']!r} ({str(exc).splitlines()[0]})") from None
    return net.eval()


def check_compatible(ckpt: dict[str, Any], model: str, labels: tuple[str, ...]) -> None:
    """Refuse a checkpoint of another model or label set."""
    where = ckpt.get("path", "checkpoint")
    if ckpt["model"] != model:
        raise KwspotError(f"{where}: checkpoint is for model {ckpt['model']!r}, not {model!r}")
    if tuple(ckpt["labels"]) != tuple(labels):
        raise KwspotError(f"{where}: checkpoint labels ({','.join(ckpt['labels'])}) differ "
                          f"from this run's ({','.join(labels)})")
