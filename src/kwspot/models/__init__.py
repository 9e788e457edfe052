"""Model families, one module each, all reachable through the registry.

>>> from kwspot import models
>>> net = models.create("seresnet3", num_classes=12)
>>> models.get_spec("seresnet3").frontend
'mel'
"""

from kwspot.models.registry import ModelSpec, create, get_spec, list_models, register_model

# One module per family; importing it registers its variants.
FAMILY_MODULES = ["simple1d", "seresnet", "vgg", "bcresnet", "matchboxnet", "dscnn", "kwt",
                  "embedding_heads"]

__all__ = ["ModelSpec", "create", "get_spec", "list_models", "register_model", "FAMILY_MODULES"]
