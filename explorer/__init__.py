"""Linguistic Travelling: look inside ELMo, GPT, BERT, GPT-2 and GPT-3 through one Trace interface."""
from .errors import ExplorerError, TruncationWarning
from .zoo import list_models, load


def __getattr__(name):  # Trace pulls in torch: import it only when asked for, so listing models stays fast
    if name == "Trace":
        from .trace import Trace

        return Trace
    raise AttributeError(f"module 'explorer' has no attribute {name!r}")

__all__ = ["ExplorerError", "Trace", "TruncationWarning", "list_models", "load"]
