"""The front-end kinds by name (torch-free: settings naming one are checked without torch).
:mod:`kwspot.features` implements them."""

FRONTENDS = ("raw", "mel", "mfcc", "embedding")
EMBEDDING_LAYERS = 20  # convolutions of the pretrained embedding network (front-end "embedding")
