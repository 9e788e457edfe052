"""A trainable keyword spotter: front-end + classifier, built from a checkpoint's description."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from kwspot import models
from kwspot.features import Frontend, FrontendConfig


class KwsNet(nn.Module):
    """Waveforms ``[B, T]`` float in [-1, 1] → logits ``[B, classes]``."""

    def __init__(self, frontend: FrontendConfig, classifier: nn.Module, *,
                 pretrained: bool = True) -> None:
        super().__init__()
        self.frontend = Frontend(frontend, pretrained=pretrained)
        self.classifier = classifier

    def forward(self, wave: Tensor) -> Tensor:
        return self.classifier(self.frontend(wave))


def frontend_for(model: str, kind: str | None = None, **overrides: Any) -> FrontendConfig:
    """The front-end a registered model expects (``kind`` overrides its feature type)."""
    spec = models.get_spec(model)
    params = {**spec.frontend_overrides, **overrides}
    return FrontendConfig(kind=kind or spec.frontend, **params)


def build_net(model: str, num_classes: int, frontend: FrontendConfig,
              model_kwargs: dict[str, Any] | None = None, *, pretrained: bool = True) -> KwsNet:
    """Front-end + registered classifier; ``pretrained=False`` leaves a pretrained front-end's
    weights empty (a checkpoint fills them)."""
    classifier = models.create(model, num_classes, **(model_kwargs or {}))
    return KwsNet(frontend, classifier, pretrained=pretrained)
