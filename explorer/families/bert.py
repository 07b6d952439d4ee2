"""BERT (Devlin et al. 2019): an encoder over token + segment + position embeddings, trained by MLM + NSP."""
from transformers import BertConfig, BertForPreTraining

FAMILY = "bert"
NET = BertForPreTraining


def config(vocab_size: int, d_model=256, n_layers=4, n_heads=4, context=128) -> BertConfig:
    return BertConfig(vocab_size=vocab_size, hidden_size=d_model, num_hidden_layers=n_layers,
                      num_attention_heads=n_heads, intermediate_size=4 * d_model,
                      max_position_embeddings=context, type_vocab_size=2)
