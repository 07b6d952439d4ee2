"""The Trace: what one pass of any model over one input exposes to every analysis."""
from dataclasses import dataclass

import torch

from .errors import ExplorerError


@dataclass
class Trace:
    """One input through one model.

    hidden:     [n_layers + 1, n_tokens, d]; index 0 is the input/token layer.
    attentions: [n_layers, n_heads, n_tokens, n_tokens], or None (ELMo, or not asked for).
    logits:     the pretraining head's scores: [n_tokens, vocab] (MLM or next token), or
                [2, n_tokens, vocab] for ELMo (0: forward LM predicting the next word,
                1: backward LM predicting the previous one); None when the checkpoint has no head or
                logits were not asked for.
    """

    model: str
    family: str
    tokens: list[str]
    words: list[str]
    word_ids: list[int | None]
    input_ids: torch.Tensor
    hidden: torch.Tensor
    attentions: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    segment_ids: list[int] | None = None
    nsp_logits: torch.Tensor | None = None  # BERT pretraining head: [IsNext, NotNext], with the logits
    truncated: bool = False

    @property
    def n_layers(self) -> int:
        return self.hidden.shape[0] - 1

    def word_tokens(self) -> list[list[int]]:
        """For each word, the positions of its tokens."""
        groups: list[list[int]] = [[] for _ in self.words]
        for pos, w in enumerate(self.word_ids):
            if w is not None:
                groups[w].append(pos)
        return groups

    def word_vectors(self, layer: int, pool: str = "first") -> torch.Tensor:
        """[n_words, d]: each word's vector at ``layer``, from its first sub-token or their mean."""
        if not -self.hidden.shape[0] <= layer < self.hidden.shape[0]:
            raise ExplorerError(f"layer {layer} does not exist: {self.model} has layers 0..{self.n_layers}")
        groups = self.word_tokens()
        empty = [self.words[i] for i, g in enumerate(groups) if not g]
        if empty:
            raise ExplorerError(f"{self.model}'s tokenizer maps these words to nothing: {empty}")
        h = self.hidden[layer]
        if pool == "first":
            return h[[g[0] for g in groups]]
        if pool == "mean":
            return torch.stack([h[g].mean(0) for g in groups])
        raise ExplorerError(f"unknown pooling {pool!r}: use 'first' or 'mean'")
