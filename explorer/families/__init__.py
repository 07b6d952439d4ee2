"""One file per family; this module builds a fresh model of any family."""
from . import bert, gpt, gpt2, gpt3
from .base import Model
from .hf import HFModel

FAMILIES = ("elmo", "gpt", "bert", "gpt2", "gpt3")
TRANSFORMERS = {m.FAMILY: m for m in (gpt, bert, gpt2, gpt3)}


def build(family: str, tokenizer, name: str, **size) -> Model:
    """A randomly initialised model of ``family`` sized by ``size`` (d_model, n_layers, n_heads, context...)."""
    if family == "elmo":
        from .elmo import build as build_elmo

        return build_elmo(tokenizer, name, **size)
    module = TRANSFORMERS[family]
    net = module.NET._from_config(module.config(len(tokenizer), **size), attn_implementation="eager")
    return HFModel(net, tokenizer, name, family)
