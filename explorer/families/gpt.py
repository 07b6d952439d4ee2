"""GPT (Radford et al. 2018): a post-LayerNorm decoder with learned positions, trained as a causal LM on BPE."""
from transformers import OpenAIGPTConfig, OpenAIGPTLMHeadModel

FAMILY = "gpt"
NET = OpenAIGPTLMHeadModel


def config(vocab_size: int, d_model=256, n_layers=4, n_heads=4, context=128) -> OpenAIGPTConfig:
    return OpenAIGPTConfig(vocab_size=vocab_size, n_positions=context, n_embd=d_model, n_layer=n_layers,
                           n_head=n_heads, afn="gelu")
