"""Linguistic Travelling: look inside ELMo, GPT, BERT, GPT-2 and GPT-3 through one Trace interface."""
from .errors import ExplorerError, TruncationWarning
from .trace import Trace
from .zoo import list_models, load

__all__ = ["ExplorerError", "Trace", "TruncationWarning", "list_models", "load"]
