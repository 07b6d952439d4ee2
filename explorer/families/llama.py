"""GPT-3's open descendants (Touvron et al. 2023 and after): a decoder with pre-RMSNorm, rotary positions, SwiGLU
feed-forward blocks and grouped-query attention; transformers' Llama classes. SmolLM2-135M is the real one here."""
from .spec import Family


def build(tokenizer, name, d_model, n_layers, n_heads, kv_heads, context):
    from transformers import LlamaConfig, LlamaForCausalLM

    from .hf import from_config

    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=d_model, num_hidden_layers=n_layers,
                         num_attention_heads=n_heads, num_key_value_heads=kv_heads, intermediate_size=8 * d_model // 3,
                         max_position_embeddings=context, tie_word_embeddings=True, bos_token_id=0, eos_token_id=0)
    return from_config(LlamaForCausalLM, config, tokenizer, name, FAMILY)


FAMILY = Family(
    name="llama", display="Llama", objective="causal", tokenizer="byte_bpe", build=build,
    tiny=dict(d_model=192, n_layers=4, n_heads=6, kv_heads=2, context=256),
    quick=dict(d_model=64, n_layers=2, n_heads=2, kv_heads=1, context=128),
    hf_model_types=("llama", "mistral", "qwen2"), real={"smollm2-135m": "135M", "HuggingFaceTB/SmolLM2-360M": "362M"},
    usages=("fewshot", "zeroshot", "finetune", "features"),
    story=dict(
        model="SmolLM2", date="2024-11", params=134.5e6, use="few-shot",
        paper="Allal et al., SmolLM2: When Smol Goes Big (after Touvron et al., LLaMA, 2023)",
        short_arch="30-layer decoder: RMSNorm, rotary, SwiGLU, shared key/value heads",
        short_objective="the next token, on 2T tokens; then instructions",
        short_gain="a small model of GPT-3's kind that runs here, not GPT-3",
        architecture="GPT-3's decoder as refined since 2020: pre-RMSNorm, rotary positions instead of learned ones, "
                     "SwiGLU feed-forward, 9 query heads sharing 3 key/value heads, 2,048-token context",
        objective="Causal language modelling, then supervised instruction tuning (the -Instruct release used here)",
        data="2T tokens: web (FineWeb-Edu, DCLM), code, maths; then instruction data",
        used="Prompted: zero- or few-shot, like GPT-3, at a thousandth of its size",
        gain="Not a paper's headline: the step after GPT-3 shows what changed in the architecture, at 135M "
             "parameters (GPT-3: 175B)"),
)
