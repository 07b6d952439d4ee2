"""GPT-3 (Brown et al. 2020): GPT-2's decoder with dense and locally banded attention layers alternating.

Built as transformers' GPT-Neo, whose ``attention_types`` alternate global and local (windowed) layers.
"""
from transformers import GPTNeoConfig, GPTNeoForCausalLM

FAMILY = "gpt3"
NET = GPTNeoForCausalLM


def config(vocab_size: int, d_model=384, n_layers=6, n_heads=6, context=128, window=16) -> GPTNeoConfig:
    if n_layers % 2:
        raise ValueError("GPT-3-style models alternate global and local layers: use an even number of layers")
    return GPTNeoConfig(vocab_size=vocab_size, max_position_embeddings=context, hidden_size=d_model,
                        num_layers=n_layers, num_heads=n_heads, attention_types=[[["global", "local"], n_layers // 2]],
                        window_size=window, intermediate_size=4 * d_model, bos_token_id=0, eos_token_id=0)
