"""Loading checkpoints safely: our own folders, HF folders or ids, and AllenNLP ELMo files.

Nothing is unpickled: weights come from safetensors (or hdf5 for AllenNLP ELMo).
"""
import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from .errors import ExplorerError
from .paths import display_name, read_card
from .families import family, for_model_type
from .families.base import Model
from .families.hf import HFModel


def check_safetensors(path: Path) -> None:
    """Fail clearly on a truncated or corrupted safetensors file before transformers sees it."""
    try:
        with safe_open(str(path), "pt") as f:
            f.keys()
    except SafetensorError as e:
        raise ExplorerError(f"{path} is corrupted or truncated ({e}): copy it again") from None


def load_directory(directory: Path, name: str | None = None) -> Model:
    """A checkpoint folder: ours (ELMo or transformer) or any HF model folder."""
    if not directory.is_dir():
        raise ExplorerError(f"{directory} is not a folder: give a checkpoint folder holding config.json")
    config_file = directory / "config.json"
    if not config_file.exists():
        if (directory / "options.json").exists():
            from .families.elmo import load_allennlp

            return load_allennlp(directory / "options.json", directory / "weights.hdf5")
        raise ExplorerError(f"{directory} has no config.json: it is not a model checkpoint")
    try:
        config = json.loads(config_file.read_text())
    except json.JSONDecodeError as e:
        raise ExplorerError(f"{config_file} is not valid JSON: {e}") from None
    for weights in directory.glob("*.safetensors"):
        check_safetensors(weights)
    if "family" in config and "model_type" not in config:  # a family's own format (ELMo), not transformers'
        return family(config["family"]).load(directory, name or display_name(directory))
    return load_hf(str(directory), name or display_name(directory), read_card(directory))


def _net_class(config):
    import transformers
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    model_type = config.model_type
    archs = config.architectures or []
    spec = for_model_type(model_type)
    if spec is not None and not spec.causal:  # an encoder: keep whichever pretraining head it was saved with
        for arch in ("BertForPreTraining", "BertForMaskedLM"):
            if arch in archs:
                return spec, getattr(transformers, arch)
        return spec, transformers.BertModel
    if spec is not None:
        return spec, transformers.AutoModelForCausalLM
    if model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return family("gpt3"), transformers.AutoModelForCausalLM  # other GPT-3-style open causal LMs
    raise ExplorerError(
        f"unsupported architecture {model_type!r} ({', '.join(archs) or 'no architectures listed'}): "
        "Linguistic Travelling reads BERT encoders, GPT, GPT-2, GPT-Neo and other causal LMs, and ELMo"
    )


def load_hf(source: str, name: str, card: dict | None = None) -> HFModel:
    """A transformers checkpoint (folder or hub id) with eager attention, so attention maps exist."""
    from transformers import AutoConfig, AutoTokenizer
    from transformers.utils import logging

    logging.disable_progress_bar()
    try:
        config = AutoConfig.from_pretrained(source)
    except (OSError, ValueError) as e:
        raise ExplorerError(
            f"could not read {source!r} ({str(e).splitlines()[0]}). If it is a Hugging Face id and this machine is "
            "offline, download the model elsewhere and give its local folder instead"
        ) from None
    spec, cls = _net_class(config)
    try:
        net = cls.from_pretrained(source, attn_implementation="eager", dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError, RuntimeError) as e:
        raise ExplorerError(f"could not load {source!r}: {str(e).splitlines()[0]}") from None
    if not getattr(tokenizer, "is_fast", False):
        raise ExplorerError(f"{source!r} has no fast tokenizer (tokenizer.json): word alignment needs one")
    return HFModel(net, tokenizer, name, spec, card)
