"""Pretraining the five families on a text corpus: objectives (biLM, causal LM, MLM + NSP) and one loop."""
from .loop import TrainConfig, train

__all__ = ["TrainConfig", "train"]
