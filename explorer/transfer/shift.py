"""How far fine-tuning moved a network: per-layer linear CKA and per-head attention change, on the same inputs.

Linear CKA (Kornblith et al. 2019) compares two sets of token vectors up to rotation and scale: 1 means the
layer represents the inputs the same way as before fine-tuning, lower means it was rewritten. A head's change is
the total-variation distance between its attention rows before and after, averaged over every token of every
input (0: it attends exactly as before, 1: to disjoint tokens).
"""
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ExplorerError


@dataclass
class Shift:
    layers: pd.DataFrame  # layer (0 = input), cka
    heads: pd.DataFrame  # layer, head (both from 1), change; most changed first
    n_tokens: int


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of two [n, d] representations of the same n items."""
    x, y = x - x.mean(0), y - y.mean(0)
    cross = np.linalg.norm(y.T @ x) ** 2
    return float(cross / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)))


def shift(before, after, texts: list[str], batch_size: int = 16) -> Shift:
    """Compare ``before`` (the pretrained model) and ``after`` (fine-tuned from it) on ``texts``."""
    if not texts:
        raise ExplorerError("give at least one text to compare the models on")
    if (before.family, before.n_layers, before.d_model) != (after.family, after.n_layers, after.d_model):
        raise ExplorerError(f"{after.name} is not the same architecture as {before.name}: "
                            "compare a fine-tuned model with the model it came from")
    traces = [m.trace_batch(texts, batch_size=batch_size, attentions=m.spec.attention) for m in (before, after)]
    for tb, ta in zip(*traces):
        if tb.tokens != ta.tokens:
            raise ExplorerError(f"{before.name} and {after.name} tokenize {tb.words[:5]}... differently: "
                                "they do not share a tokenizer")
    hidden = [np.concatenate([t.hidden.float().numpy() for t in ts], axis=1) for ts in traces]
    layers = pd.DataFrame(dict(layer=range(hidden[0].shape[0]),
                               cka=[linear_cka(b, a) for b, a in zip(*hidden)]))
    return Shift(layers, _head_change(*traces) if before.spec.attention else pd.DataFrame(), hidden[0].shape[1])


def _head_change(before, after) -> pd.DataFrame:
    """[layers, heads] mean total-variation distance between attention rows, as a long table."""
    total, rows = 0.0, 0
    for tb, ta in zip(before, after):
        diff = 0.5 * (tb.attentions.float() - ta.attentions.float()).abs().sum(-1)  # [L, H, T]
        total, rows = total + diff.sum(-1).numpy(), rows + diff.shape[-1]
    change = total / rows
    n_layers, n_heads = change.shape
    return pd.DataFrame([dict(layer=layer + 1, head=head + 1, change=float(change[layer, head]))
                         for layer in range(n_layers) for head in range(n_heads)]).sort_values(
        "change", ascending=False, ignore_index=True)
