"""The families' differences made visible: how each cuts the same text into tokens, and BERT's input sum."""
import pandas as pd
import plotly.graph_objects as go
import torch

from ..errors import ExplorerError
from ..text import split_words

SPECIALS = "(special tokens)"


def _pieces(model, trace) -> tuple[dict[int, list[str]], list[str]]:
    """Each traced word's pieces (ELMo: the characters its CNN reads), and the tokens that belong to no word."""
    if model.spec.objective == "bidirectional":  # ELMo reads characters
        return {i: list(w) for i, w in enumerate(trace.words)}, []
    pieces: dict[int, list[str]] = {}
    specials = []
    for token, w in zip(trace.tokens, trace.word_ids):
        if w is None:
            specials.append(token)
        else:
            pieces.setdefault(w, []).append(token)
    return pieces, specials


def tokenization_table(models, text: str) -> pd.DataFrame:
    """One row per word of ``text``, one column per model: the pieces (space-separated) each model reads.

    A last row lists the special tokens a model adds, and the ``n_tokens`` row counts what it feeds its
    network (ELMo: one token per word, each read as characters). Words cut off by truncation show "—".
    """
    words = [w for w, _, _ in split_words(text)]
    table = {"word": words + [SPECIALS, "n_tokens"]}
    for model in models:
        tr = model.trace(text, attentions=False, logits=False)
        pieces, specials = _pieces(model, tr)
        cells, j = [], 0
        for w in words:  # the trace drops words lost to truncation; walk both lists together
            if j < len(tr.words) and tr.words[j] == w:
                cells.append(" ".join(pieces.get(j, [])))
                j += 1
            else:
                cells.append("—")
        table[f"{model.name} ({model.family})"] = cells + [" ".join(specials), str(len(tr.tokens))]
    return pd.DataFrame(table)


def tokenization_figure(table: pd.DataFrame) -> go.Figure:
    """Each model as a strip of its pieces: every word gets the same width, split among its pieces."""
    fig = go.Figure()
    words = table["word"].tolist()[:-2]
    shades = ("#c6dbef", "#fdd0a2")
    for column in table.columns[1:]:
        cells = table[column].tolist()[:-2]
        starts, widths, texts, colours = [], [], [], []
        for i, cell in enumerate(cells):
            parts = cell.split(" ") if cell else ["∅"]
            for k, part in enumerate(parts):
                starts.append(i + k / len(parts))
                widths.append(1 / len(parts))
                texts.append(part)
                colours.append(shades[i % 2])
        fig.add_bar(y=[column] * len(texts), x=widths, base=starts, orientation="h", text=texts,
                    textposition="inside", insidetextanchor="middle", marker=dict(color=colours, line=dict(
                        color="white", width=1)), hovertext=texts, hoverinfo="text+y", showlegend=False)
    fig.update_xaxes(tickvals=[i + 0.5 for i in range(len(words))], ticktext=words, side="top", range=[0, len(words)])
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title="the same text, as each model reads it", barmode="overlay",
                      height=120 + 60 * (len(table.columns) - 1), width=max(600, 70 * len(words)),
                      uniformtext=dict(minsize=8, mode="hide"))
    return fig


@torch.no_grad()
def bert_embedding_parts(model, text: str, pair: str | None = None) -> pd.DataFrame:
    """BERT's input per token as token + segment + position embeddings: the norm of each part, of their
    sum, and of the LayerNorm-ed sum the first layer reads."""
    if not model.spec.pairs:
        raise ExplorerError(f"{model.name} is a {model.spec.display} model: only BERT sums token, segment and "
                            "position embeddings")
    tr = model.trace(text, pair=pair, attentions=False, logits=False)
    positions = torch.arange(len(tr.tokens))
    segments = torch.tensor(tr.segment_ids or [0] * len(tr.tokens))
    parts = model.embedding_parts(tr.input_ids, segments)
    total = sum(parts.values())
    table = pd.DataFrame({"position": positions.tolist(), "token": tr.tokens, "segment": segments.tolist()})
    for name, vectors in parts.items():
        table[f"{name}_norm"] = vectors.norm(dim=-1).tolist()
    table["sum_norm"] = total.norm(dim=-1).tolist()
    table["layer_input_norm"] = tr.hidden[0].norm(dim=-1).tolist()
    return table


def embedding_parts_figure(table: pd.DataFrame, model_name: str = "") -> go.Figure:
    """Grouped bars: each part's norm per token, with the norm of the sum as a line."""
    labels = [f"{p} {t}" for p, t in zip(table["position"], table["token"])]
    fig = go.Figure()
    for part in ("token", "segment", "position"):
        fig.add_bar(x=labels, y=table[f"{part}_norm"], name=f"{part} embedding")
    fig.add_scatter(x=labels, y=table["sum_norm"], name="their sum", mode="lines+markers")
    fig.update_layout(title=f"{model_name}: BERT's input = token + segment + position".strip(": "),
                      barmode="group", xaxis=dict(tickangle=-60), yaxis=dict(title="L2 norm"))
    return fig
