"""Pretraining the five families on a text corpus: objectives (biLM, causal LM, MLM + NSP) and one loop."""

__all__ = ["TrainConfig", "train"]


def __getattr__(name):  # the loop pulls in torch: import it only when asked for, so the CLI's flags load fast
    if name in __all__:
        from . import loop

        return getattr(loop, name)
    raise AttributeError(f"module 'explorer.training' has no attribute {name!r}")
