"""What a family is: everything that differs between families, in one record per family.

Analyses, pages and the trainer ask a model's spec (``model.spec``) or the registry, never compare family names.
Kept free of torch and transformers so that the registry is cheap to import; builders import them when called.
"""
from collections.abc import Callable
from dataclasses import dataclass, field

# What a blank (or the end of a text) means to each objective: how the family was pretrained and so how it predicts.
OBJECTIVES = {
    "causal": "causal language modelling: the next token from the left context",
    "masked": "masked language modelling (+ next-sentence prediction): a [MASK] from both sides",
    "bidirectional": "two language models, left-to-right and right-to-left, over whole words",
}
USAGES = ("features", "finetune", "zeroshot", "fewshot")
# What the Journey page tells of each original model (``story``; "model" may rename it, e.g. SmolLM2 for Llama).
STORY_KEYS = ("date", "params", "use", "paper", "short_arch", "short_objective", "short_gain", "architecture",
              "objective", "data", "used", "gain")


@dataclass(frozen=True)
class Family:
    name: str  # "gpt2": the name the CLI, checkpoints and cards use
    display: str  # "GPT-2"
    objective: str  # a key of OBJECTIVES
    tokenizer: str  # the tokenizer kind explorer.tokenizers trains for it
    tiny: dict  # the shipped tiny model's size: the builder's defaults
    quick: dict  # a size that trains in minutes, offered on the Train page
    build: Callable  # build(tokenizer, name, **size) -> a randomly initialised Model
    story: dict  # the original model, as its paper built and used it: STORY_KEYS (the Journey page)
    hf_model_types: tuple[str, ...] = ()  # transformers ``model_type`` values read as this family
    real: dict = field(default_factory=dict)  # well-known real checkpoints -> parameters as published
    lens: str | None = "final norm"  # how the logit lens reads an inner layer: "final norm", "head" (post-LN: as it
    #                                  is), "mlm head" (BERT's transform + decoder), or None (no lens)
    attention: bool = True  # self-attention maps exist
    pairs: bool = False  # reads sentence pairs with segment ids and has a next-sentence head
    usages: tuple[str, ...] = ()  # how the paper used it, and what else it can do: a subset of USAGES
    not_prompted: str = ""  # for a non-causal family: why it cannot be prompted
    load: Callable | None = None  # load(directory, name) for a family's own checkpoint format; None: transformers'
    options: tuple[str, ...] = ()  # size keys the builder takes beyond those of ``tiny``

    @property
    def causal(self) -> bool:
        return self.objective == "causal"

    @property
    def tiny_name(self) -> str:
        return f"{self.name}-tiny"
