"""GPT-3 (Brown et al. 2020): GPT-2's decoder with dense and locally banded attention layers alternating.

Built as transformers' GPT-Neo, whose ``attention_types`` alternate global and local (windowed) layers.
"""
from ..errors import ExplorerError
from .spec import Family


def build(tokenizer, name, d_model, n_layers, n_heads, context, window):
    from transformers import GPTNeoConfig, GPTNeoForCausalLM

    from .hf import from_config

    if n_layers % 2:
        raise ExplorerError("GPT-3-style models alternate global and local layers: use an even number of layers")
    config = GPTNeoConfig(vocab_size=len(tokenizer), max_position_embeddings=context, hidden_size=d_model,
                          num_layers=n_layers, num_heads=n_heads, window_size=window, intermediate_size=4 * d_model,
                          attention_types=[[["global", "local"], n_layers // 2]], bos_token_id=0, eos_token_id=0)
    return from_config(GPTNeoForCausalLM, config, tokenizer, name, FAMILY)


FAMILY = Family(
    name="gpt3", display="GPT-3", objective="causal", tokenizer="byte_bpe", build=build,
    tiny=dict(d_model=320, n_layers=8, n_heads=8, context=256, window=64),
    quick=dict(d_model=64, n_layers=2, n_heads=2, context=128, window=16),
    hf_model_types=("gpt_neo",),
    real={"EleutherAI/gpt-neo-125m": "125M", "EleutherAI/gpt-neo-1.3B": "1.3B", "EleutherAI/gpt-neo-2.7B": "2.7B"},
    usages=("fewshot", "zeroshot", "finetune", "features"),
    story=dict(
        date="2020-05", params=175e9, use="few-shot",
        paper="Brown et al., Language Models are Few-Shot Learners",
        short_arch="96 layers, dense + local attention", short_objective="the next token, on 300B tokens",
        short_gain="learns a task from examples in its prompt",
        architecture="GPT-2's decoder scaled to 96 layers, alternating dense and locally banded sparse attention, "
                     "2,048-token context",
        objective="Causal language modelling",
        data="300B tokens: filtered Common Crawl, WebText2, books, Wikipedia",
        used="Few-shot in context: a handful of examples in the prompt, no gradient update",
        gain="In-context learning that grows with scale: LAMBADA 86.4 % few-shot, TriviaQA 71.2 %"),
)
