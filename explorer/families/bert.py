"""BERT (Devlin et al. 2019): an encoder over token + segment + position embeddings, trained by MLM + NSP."""
from .spec import Family


def build(tokenizer, name, d_model, n_layers, n_heads, context, init_std=0.02):
    # init_std (HF's initializer_range): a wider init shortens post-LN BERT's plateau on a positional toy
    # (bench/positional_copy.py), though not on the real corpus (bench/results/training_runs.md)
    from transformers import BertConfig, BertForPreTraining

    from .hf import from_config

    config = BertConfig(vocab_size=len(tokenizer), hidden_size=d_model, num_hidden_layers=n_layers,
                        num_attention_heads=n_heads, intermediate_size=4 * d_model,
                        max_position_embeddings=context, type_vocab_size=2, initializer_range=init_std)
    return from_config(BertForPreTraining, config, tokenizer, name, FAMILY)


FAMILY = Family(
    name="bert", display="BERT", objective="masked", tokenizer="wordpiece", build=build,
    tiny=dict(d_model=192, n_layers=4, n_heads=4, context=256), options=("init_std",),
    quick=dict(d_model=64, n_layers=2, n_heads=2, context=128),
    hf_model_types=("bert",), real={"bert-base-uncased": "110M", "bert-large-uncased": "340M", "all-minilm-l6-v2": "22.7M"},
    lens="mlm head", pairs=True, usages=("finetune", "features"),
    not_prompted="BERT reads the whole text in both directions and was trained to fill in masked words, so it has "
                 "no next-word distribution to continue a prompt with",
    story=dict(
        date="2018-10", params=110e6, use="fine-tuned",
        paper="Devlin et al., BERT: Pre-training of Deep Bidirectional Transformers",
        short_arch="Transformer encoder, reads both ways", short_objective="masked words + next sentence",
        short_gain="GLUE 80.5 (+7.7); SQuAD v1.1 F1 93.2",
        architecture="Transformer encoder (12 layers base, 24 large); token + segment + position embeddings; "
                     "[CLS] and [SEP]; WordPiece",
        objective="Masked LM (15 % of tokens: 80 % [MASK], 10 % random, 10 % kept) + next-sentence prediction",
        data="BooksCorpus + English Wikipedia (3.3B words)",
        used="Fine-tuned with one small output layer per task",
        gain="GLUE 80.5 (+7.7 points), MultiNLI 86.7 (+4.6), SQuAD v1.1 F1 93.2, v2.0 F1 83.1 (+5.1)"),
)
