"""Induction heads and the in-context learning score (Olsson et al. 2022).

A sequence of random tokens is shown twice. Nothing predicts the first copy; a model that learns in
context predicts the second copy by looking back: its loss drops (the ICL score is the drop). An
induction head does the looking: from a token in the second copy it attends to the token that followed
the same token's earlier occurrence, which is what it should predict next.
"""
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch

from ..errors import ExplorerError
from .prompting import check_causal, document_start


@dataclass
class Induction:
    """One model on ``n_seqs`` random sequences of ``seq_len`` tokens, each repeated once."""

    model: str
    seq_len: int
    loss: np.ndarray  # [2 * seq_len]: mean next-token loss of each token (nan where nothing precedes it)
    scores: np.ndarray  # [n_layers, n_heads]: each head's induction score (mean attention, 0..1)
    layer_names: list[str]

    @property
    def loss_first(self) -> float:
        """Mean loss on the first copy (its first token excluded: nothing can predict it)."""
        return float(np.nanmean(self.loss[1:self.seq_len]))

    @property
    def loss_second(self) -> float:
        """Mean loss on the second copy (its first token excluded: the repeat cannot be foreseen)."""
        return float(np.nanmean(self.loss[self.seq_len + 1:]))

    @property
    def icl_score(self) -> float:
        """How much lower the loss is on the second copy (nats per token)."""
        return self.loss_first - self.loss_second


def repeated_tokens(model, seq_len: int, seed: int = 0, n_seqs: int = 8) -> torch.Tensor:
    """[n_seqs, start + 2 * seq_len]: a document boundary (if the tokenizer has one), then random
    non-special tokens, then the same tokens again."""
    start = document_start(model)
    if seq_len < 2:
        raise ExplorerError(f"seq_len must be at least 2, got {seq_len}")
    if len(start) + 2 * seq_len > model.max_len:
        raise ExplorerError(f"two copies of {seq_len} tokens do not fit {model.name}'s context of {model.max_len}: "
                            f"use seq_len <= {(model.max_len - len(start)) // 2}")
    special = set(model.tokenizer.all_special_ids)
    vocab = min(len(model.tokenizer), model.input_embedding().num_embeddings)
    allowed = torch.tensor([i for i in range(vocab) if i not in special])
    gen = torch.Generator().manual_seed(seed)
    first = allowed[torch.randint(len(allowed), (n_seqs, seq_len), generator=gen)]
    return torch.cat([torch.tensor([start] * n_seqs, dtype=torch.long).view(n_seqs, len(start)), first, first], 1)


def default_seq_len(model) -> int:
    return min(50, (model.max_len - len(document_start(model))) // 2)


def _attention_pass(model, seq_len, seed, n_seqs):
    if not model.spec.attention:
        raise ExplorerError(f"{model.name} is an ELMo model: its LSTMs have no attention heads, so no head can be an "
                            "induction head; choose a transformer")
    ids = repeated_tokens(model, seq_len, seed, n_seqs)
    with torch.no_grad():
        logits, attentions = model.attend(ids)
    return ids, logits, attentions


def _head_scores(attentions, offset, seq_len) -> np.ndarray:
    """Mean attention from second-copy token q = offset + seq_len + t to offset + t + 1, the token after its first
    occurrence (attentions: [L, n, H, T, T])."""
    q = torch.arange(seq_len) + offset + seq_len
    return attentions.float()[:, :, :, q, q - seq_len + 1].mean(dim=(1, 3)).numpy()


def analyse(model, seq_len: int | None = None, seed: int = 0, n_seqs: int = 8) -> Induction:
    """Loss on each copy and every head's induction score, from one pass over repeated random tokens."""
    check_causal(model)
    seq_len = seq_len or default_seq_len(model)
    ids, logits, attentions = _attention_pass(model, seq_len, seed, n_seqs)
    offset = ids.shape[1] - 2 * seq_len
    logp = logits.float().log_softmax(-1)
    token_loss = -logp[:, :-1].gather(-1, ids[:, 1:, None])[..., 0]  # loss of token p + 1
    loss = np.full(2 * seq_len, np.nan)
    loss[max(0, 1 - offset):] = token_loss[:, max(0, offset - 1):].mean(0).numpy()
    return Induction(model.name, seq_len, loss, _head_scores(attentions, offset, seq_len), layer_names(model))


def induction_scores(model, seq_len: int | None = None, seed: int = 0, n_seqs: int = 8) -> np.ndarray:
    """[n_layers, n_heads]: attention from each second-copy token to the token after its first occurrence.

    Any transformer: for BERT, which sees both copies at once, a high score means copying, not prediction.
    """
    seq_len = seq_len or default_seq_len(model)
    ids, _, attentions = _attention_pass(model, seq_len, seed, n_seqs)
    return _head_scores(attentions, ids.shape[1] - 2 * seq_len, seq_len)


def layer_names(model) -> list[str]:
    """'layer 1' ... (1 = the first block), with GPT-3-style models' global/local attention marked."""
    kinds = model.attention_kinds
    return [f"layer {i + 1}" + (f" ({kinds[i]})" if kinds else "") for i in range(model.n_layers)]


def summary(results: list[Induction]) -> pd.DataFrame:
    """One row per model: loss on each copy, the ICL score, and its strongest induction head."""
    rows = []
    for r in results:
        layer, head = np.unravel_index(int(r.scores.argmax()), r.scores.shape)
        rows.append(dict(model=r.model, loss_first_copy=r.loss_first, loss_second_copy=r.loss_second,
                         icl_score=r.icl_score, top_head=f"{r.layer_names[layer]}, head {head + 1}",
                         top_induction_score=float(r.scores.max())))
    return pd.DataFrame(rows)


def heads_table(result: Induction) -> pd.DataFrame:
    """Long form: model, layer, head (both from 1), induction score."""
    n_layers, n_heads = result.scores.shape
    return pd.DataFrame([dict(model=result.model, layer=layer + 1, head=head + 1, induction_score=float(s))
                         for layer in range(n_layers) for head, s in zip(range(n_heads), result.scores[layer])])


def loss_figure(results: list[Induction]) -> go.Figure:
    """Per-token loss along the two copies, a line per model: a drop after the repeat starts is ICL."""
    fig = go.Figure()
    for r in results:
        fig.add_trace(go.Scatter(x=np.arange(1, 2 * r.seq_len + 1), y=r.loss, mode="lines",
                                 name=f"{r.model} (ICL score {r.icl_score:.2f})"))
    seq_len = results[0].seq_len if results else 0
    fig.add_vline(x=seq_len + 0.5, line_dash="dot", annotation_text="repeat starts", line_color="grey")
    fig.update_layout(title="Loss on a random token sequence shown twice", template="plotly_white",
                      xaxis_title="token position", yaxis_title="loss (nats)")
    return fig


def heads_figure(result: Induction) -> go.Figure:
    """Induction score of every head (layer x head)."""
    n_layers, n_heads = result.scores.shape
    fig = go.Figure(go.Heatmap(z=result.scores, x=[f"head {h + 1}" for h in range(n_heads)], y=result.layer_names,
                               zmin=0, zmax=1, colorscale="Viridis", colorbar_title="induction<br>score",
                               hovertemplate="%{y}, %{x}: %{z:.2f}<extra></extra>"))
    fig.update_layout(title=f"{result.model}: induction heads (attention to the token after the earlier "
                            "occurrence)", template="plotly_white", yaxis_autorange="reversed")
    return fig
