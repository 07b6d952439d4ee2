"""BERT (Devlin et al. 2019): an encoder over token + segment + position embeddings, trained by MLM + NSP."""
from transformers import BertConfig, BertForPreTraining

FAMILY = "bert"
NET = BertForPreTraining


def config(vocab_size: int, d_model=256, n_layers=4, n_heads=4, context=128, init_std=0.02) -> BertConfig:
    # init_std (HF's initializer_range): a wider init shortens post-LN BERT's plateau on a positional toy
    # (bench/positional_copy.py), though not on the real corpus (bench/results/training_runs.md)
    return BertConfig(vocab_size=vocab_size, hidden_size=d_model, num_hidden_layers=n_layers,
                      num_attention_heads=n_heads, intermediate_size=4 * d_model,
                      max_position_embeddings=context, type_vocab_size=2, initializer_range=init_std)
