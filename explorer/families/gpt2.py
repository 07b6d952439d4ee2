"""GPT-2 (Radford et al. 2019): a pre-LayerNorm decoder with a final LayerNorm, on byte-level BPE."""
from transformers import GPT2Config, GPT2LMHeadModel

FAMILY = "gpt2"
NET = GPT2LMHeadModel


def config(vocab_size: int, d_model=256, n_layers=4, n_heads=4, context=128) -> GPT2Config:
    return GPT2Config(vocab_size=vocab_size, n_positions=context, n_embd=d_model, n_layer=n_layers, n_head=n_heads,
                      bos_token_id=0, eos_token_id=0)
