"""GPT-2 (Radford et al. 2019): GPT's decoder made pre-LayerNorm with a final norm, on byte-level BPE."""
from .spec import Family


def build(tokenizer, name, d_model, n_layers, n_heads, context):
    from transformers import GPT2Config, GPT2LMHeadModel

    from .hf import from_config

    config = GPT2Config(vocab_size=len(tokenizer), n_positions=context, n_embd=d_model, n_layer=n_layers,
                        n_head=n_heads, bos_token_id=0, eos_token_id=0)
    return from_config(GPT2LMHeadModel, config, tokenizer, name, FAMILY)


FAMILY = Family(
    name="gpt2", display="GPT-2", objective="causal", tokenizer="byte_bpe", build=build,
    tiny=dict(d_model=192, n_layers=4, n_heads=4, context=256),
    quick=dict(d_model=64, n_layers=2, n_heads=2, context=128),
    hf_model_types=("gpt2",), real={"gpt2": "124M", "gpt2-medium": "355M", "gpt2-large": "774M", "gpt2-xl": "1.5B"},
    usages=("zeroshot", "fewshot", "finetune", "features"),
    story=dict(
        date="2019-02", params=1.5e9, use="zero-shot",
        paper="Radford et al., Language Models are Unsupervised Multitask Learners",
        short_arch="a bigger decoder, pre-LayerNorm", short_objective="the next token, on 40 GB of web text",
        short_gain="zero-shot state of the art on 7 of 8 LM tests",
        architecture="Transformer decoder, pre-LayerNorm + final LayerNorm, 48 layers at its largest, byte-level "
                     "BPE, 1,024-token context",
        objective="Causal language modelling on much more and cleaner web text",
        data="WebText (40 GB, 8M documents)",
        used="Zero-shot: prompted with the task in plain text, no task training at all",
        gain="Zero-shot state of the art on 7 of 8 LM benchmarks; LAMBADA perplexity 99.8 → 8.6"),
)
