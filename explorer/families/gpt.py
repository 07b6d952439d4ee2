"""GPT (Radford et al. 2018): a post-LayerNorm decoder with learned positions, trained as a causal LM on BPE."""
from .spec import Family


def build(tokenizer, name, d_model, n_layers, n_heads, context):
    from transformers import OpenAIGPTConfig, OpenAIGPTLMHeadModel

    from .hf import from_config

    config = OpenAIGPTConfig(vocab_size=len(tokenizer), n_positions=context, n_embd=d_model, n_layer=n_layers,
                             n_head=n_heads, afn="gelu")
    return from_config(OpenAIGPTLMHeadModel, config, tokenizer, name, FAMILY)


FAMILY = Family(
    name="gpt", display="GPT", objective="causal", tokenizer="bpe", build=build,
    tiny=dict(d_model=192, n_layers=4, n_heads=4, context=256),
    quick=dict(d_model=64, n_layers=2, n_heads=2, context=128),
    hf_model_types=("openai-gpt",), real={"openai-gpt": "117M"},
    lens="head",  # post-LayerNorm blocks: every layer's output is already normalised
    usages=("finetune", "features", "zeroshot", "fewshot"),
    story=dict(
        date="2018-06", params=117e6, use="fine-tuned",
        paper="Radford et al., Improving Language Understanding by Generative Pre-Training",
        short_arch="12-layer Transformer decoder", short_objective="the next token",
        short_gain="best on 9 of 12 tasks; GLUE 68.9 → 72.8",
        architecture="12-layer Transformer decoder (masked self-attention), post-LayerNorm, learned positions, BPE",
        objective="Causal language modelling: predict the next token",
        data="BooksCorpus (~7,000 books)",
        used="Fine-tuned: the whole network trained on each task, inputs rewritten with delimiter tokens",
        gain="Best on 9 of 12 tasks: +8.9 points on story cloze, +5.7 on RACE, GLUE 72.8 (from 68.9)"),
)
