"""Model registry: ``@register_model`` builders, ``create(name, num_classes)``, ``list_models``.

Every registered model declares the front-end it expects (``raw``, ``mel``, ``mfcc`` or
``embedding``,
with optional overrides of the front-end parameters) and may record recommended
training settings so ``kwspot train --model NAME`` needs no extra flags.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from kwspot.errors import KwspotError
from kwspot.features import FRONTENDS


@dataclass(frozen=True)
class ModelSpec:
    """What the registry knows about one model name."""

    name: str
    builder: Callable[..., nn.Module]
    frontend: str  # one of kwspot.features.FRONTENDS
    frontend_overrides: dict[str, Any] = field(default_factory=dict)
    recommended: dict[str, Any] = field(default_factory=dict)  # TrainConfig field -> value
    paper: str = ""


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    *,
    frontend: str,
    frontend_overrides: dict[str, Any] | None = None,
    recommended: dict[str, Any] | None = None,
    paper: str = "",
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register ``builder(num_classes: int, **kwargs) -> nn.Module`` under ``name``."""
    if frontend not in FRONTENDS:
        raise ValueError(f"frontend must be one of {', '.join(FRONTENDS)}, got {frontend!r}")

    def wrap(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = ModelSpec(
            name=name,
            builder=builder,
            frontend=frontend,
            frontend_overrides=dict(frontend_overrides or {}),
            recommended=dict(recommended or {}),
            paper=paper,
        )
        return builder

    return wrap


def get_spec(name: str) -> ModelSpec:
    """The spec of ``name``; an unknown name raises a KwspotError listing close matches."""
    _load_families()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KwspotError(
            f"unknown model {name!r}{hint} (known: {', '.join(sorted(_REGISTRY))})"
        )
    return _REGISTRY[name]


def create(name: str, num_classes: int, **kwargs: Any) -> nn.Module:
    """Build model ``name`` with ``num_classes`` outputs (logits)."""
    return get_spec(name).builder(num_classes=num_classes, **kwargs)


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style pattern, sorted."""
    _load_families()
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def _load_families() -> None:
    # Importing the family modules runs their @register_model decorators.
    from kwspot.models import FAMILY_MODULES

    for mod in FAMILY_MODULES:
        importlib.import_module(f"kwspot.models.{mod}")
