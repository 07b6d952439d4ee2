"""Linguistic Travelling: look inside ELMo, GPT, BERT, GPT-2 and GPT-3 through one Trace interface."""
from .errors import ExplorerError, TruncationWarning
from .lazy import attach
from .zoo import list_models, load

# Trace (and every subpackage) is imported when first asked for: it pulls in torch, and listing models stays fast
__getattr__, __dir__ = attach(__name__, {"trace": ["Trace"]})

__all__ = ["ExplorerError", "Trace", "TruncationWarning", "list_models", "load"]
