"""Pretraining the five families on a text corpus: objectives (biLM, causal LM, MLM + NSP) and one loop."""
from ..lazy import attach

# the loop pulls in torch: it is imported when first asked for, so the CLI's flags and the Train page load fast
__getattr__, __dir__ = attach(__name__, {"config": ["TrainConfig"], "loop": ["train"]})

__all__ = ["TrainConfig", "train"]
