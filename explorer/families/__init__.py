"""The family registry: one file per family, each exporting ``FAMILY`` (a spec.Family); this is the only list."""
from ..errors import ExplorerError
from . import bert, elmo, gpt, gpt2, gpt3, llama
from .spec import Family

REGISTRY: dict[str, Family] = {m.FAMILY.name: m.FAMILY for m in (elmo, gpt, bert, gpt2, gpt3, llama)}


def family(name: str) -> Family:
    """The spec of the family called ``name``, or a message listing them."""
    if name not in REGISTRY:
        raise ExplorerError(f"unknown family {name!r}: one of {', '.join(REGISTRY)}")
    return REGISTRY[name]


def for_model_type(model_type: str) -> Family | None:
    """The family that reads a transformers checkpoint of ``model_type`` ("gpt2", "llama"...), if any."""
    return next((f for f in REGISTRY.values() if model_type in f.hf_model_types), None)


def build(name: str, tokenizer, model_name: str, **size):
    """A randomly initialised model of family ``name``, sized by ``size`` (missing keys: the shipped size)."""
    spec = family(name)
    return spec.build(tokenizer, model_name, **(spec.tiny | size))
