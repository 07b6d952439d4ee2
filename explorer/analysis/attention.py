"""Attention: per-head matrices, rollout and flow (Abnar & Zuidema 2020), head scores, and three views.

Every matrix is [query, key]: row i says how token i spreads its attention over the tokens.
The views are plotly figures that stay usable at 512 tokens: the head view draws only the
strongest edges, the model view pools each head's matrix into a small grid.
"""
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from plotly.colors import qualitative
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_flow

from ..errors import ExplorerError
from ..families import family
from ..text import readable_token
from ..trace import Trace

# Attention flow is max-flow, one per (output, input) token pair, over a graph of up to
# n_layers * n_tokens**2 edges; SciPy's Dinic solver takes about 0.3 microseconds per edge, so the
# total (max-flows x edges) is capped, which allows about 130 tokens into one output for 12 layers.
MAX_FLOW_WORK = 30_000_000
FLOW_SCALE = 10 ** 8  # SciPy's max-flow wants integer capacities: weights in units of 1e-8
# The head view draws at most about this many lines unless asked for more: each token keeps its
# strongest edges. Past GL_LINES lines it draws with WebGL, which stays fast (SVG slows past ~10k).
HEAD_VIEW_EDGES = 4000
GL_LINES = 3000


def attention(trace: Trace) -> np.ndarray:
    """[n_layers, n_heads, n_tokens, n_tokens] attention weights of a traced transformer."""
    if not family(trace.family).attention:
        raise ExplorerError(
            f"{trace.model} is an ELMo biLSTM: it has no attention to show. Ask which input words a prediction "
            "depends on with attribution (saliency) instead: explorer.analysis.attribution.attribute(model, text)")
    if trace.attentions is None:
        raise ExplorerError(f"this trace of {trace.model} holds no attention: trace it with attentions=True")
    return trace.attentions.detach().float().numpy()


def _with_residual(att: np.ndarray) -> np.ndarray:
    """Per layer: heads averaged, the residual connection added as the identity, rows renormalised."""
    if att.ndim != 4 or att.shape[-1] != att.shape[-2]:
        raise ExplorerError(f"expected attention of shape [layers, heads, tokens, tokens], got {att.shape}")
    mixed = att.mean(axis=1) + np.eye(att.shape[-1])
    return mixed / mixed.sum(axis=-1, keepdims=True)


def rollout(att: np.ndarray) -> np.ndarray:
    """[n_layers, T, T]: entry l is how much each token at layer l+1 draws on each input token.

    Abnar & Zuidema's rollout: the residual-augmented layer matrices multiplied up from the bottom.
    """
    layers = _with_residual(att)
    out = np.empty_like(layers)
    acc = np.eye(att.shape[-1])
    for l, a in enumerate(layers):
        acc = a @ acc
        out[l] = acc
    return out


def _flow_graph(layers: np.ndarray) -> csr_matrix:
    """Node l * T + t is token t at layer l; an edge from (l, key) to (l+1, query) carries up to that weight."""
    n_layers, n_tokens, _ = layers.shape
    rows, cols, caps = [], [], []
    for l, a in enumerate(layers):
        queries, keys = np.nonzero(a)
        rows.append(l * n_tokens + keys)
        cols.append((l + 1) * n_tokens + queries)
        caps.append(np.round(a[queries, keys] * FLOW_SCALE).astype(np.int32))
    size = (n_layers + 1) * n_tokens
    return csr_matrix((np.concatenate(caps), (np.concatenate(rows), np.concatenate(cols))), shape=(size, size))


@dataclass
class Flow:
    """Attention flow: flow[o, j] is the max-flow from input token j to output token outputs[o] (top layer)."""

    outputs: list[int]
    flow: np.ndarray


def attention_flow(att: np.ndarray, outputs: list[int] | None = None) -> Flow:
    """Abnar & Zuidema's attention flow into the chosen output tokens (all of them when that fits the cap).

    Exact max-flow (to 1e-8 per edge), so it is bounded: requests over MAX_FLOW_WORK edge-visits are
    refused with a message that says what does fit.
    """
    n_layers, _, n_tokens, _ = att.shape
    graph = _flow_graph(_with_residual(att))
    per_output = graph.nnz * n_tokens
    fits = MAX_FLOW_WORK // per_output
    if fits == 0:
        longest = int((MAX_FLOW_WORK / n_layers) ** (1 / 3))
        raise ExplorerError(
            f"attention flow over {n_tokens} tokens and {n_layers} layers is too slow to compute exactly (one "
            f"max-flow per input token over {graph.nnz} edges); for this model it is limited to about {longest} "
            "tokens: shorten the text, or use attention rollout, which is fast at any length")
    if outputs is None:
        if fits < n_tokens:
            raise ExplorerError(f"attention flow into all {n_tokens} tokens is too slow: choose up to {fits} "
                                "output tokens (outputs=[...]), or use attention rollout")
        outputs = list(range(n_tokens))
    outputs = [int(o) for o in outputs]
    bad = [o for o in outputs if not 0 <= o < n_tokens]
    if bad:
        raise ExplorerError(f"output tokens {bad} do not exist: positions run 0..{n_tokens - 1}")
    if len(outputs) > fits:
        raise ExplorerError(f"attention flow into {len(outputs)} output tokens is too slow here: choose up to {fits}")
    sink = n_layers * n_tokens
    flow = np.array([[maximum_flow(graph, j, sink + o, method="dinic").flow_value for j in range(n_tokens)]
                     for o in outputs], dtype=np.float64) / FLOW_SCALE
    return Flow(outputs, flow)


# -- head scores -------------------------------------------------------------------------------------

def head_scores(trace: Trace, model=None) -> pd.DataFrame:
    """One row per (layer, head): what kind of head it is on this input.

    entropy: mean over queries of the attention distribution's entropy (nats; low = focused);
    previous_token: mean weight on the token just before; to_first: mean weight on position 0;
    to_<special>: mean weight on each special token present ([CLS], [SEP], ...);
    induction (when ``model`` is given): attention to the token after an earlier copy of the current
    token, on a repeated random-token sequence (explorer.analysis.induction; for BERT, which sees both
    copies at once, a high score means copying rather than prediction).
    """
    att = attention(trace)
    n_layers, n_heads, n_tokens, _ = att.shape
    entropy = -(att * np.log(np.clip(att, 1e-12, None))).sum(-1).mean(-1)
    prev = att[..., np.arange(1, n_tokens), np.arange(n_tokens - 1)].mean(-1) if n_tokens > 1 else np.full(
        (n_layers, n_heads), np.nan)
    table = pd.DataFrame({
        "layer": np.repeat(np.arange(n_layers), n_heads),
        "head": np.tile(np.arange(n_heads), n_layers),
        "entropy": entropy.ravel(),
        "previous_token": prev.ravel(),
        "to_first": att[..., 0].mean(-1).ravel(),
    })
    specials = sorted({t for t, w in zip(trace.tokens, trace.word_ids) if w is None})
    for special in specials:
        columns = [i for i, t in enumerate(trace.tokens) if t == special]
        table[f"to_{special}"] = att[..., columns].sum(-1).mean(-1).ravel()
    if model is not None:
        from .induction import induction_scores

        table["induction"] = np.asarray(induction_scores(model)).ravel()
    return table


# -- views ------------------------------------------------------------------------------------------

def token_labels(tokens: list[str]) -> list[str]:
    """Position-prefixed labels, unique even when a token repeats (plotly merges equal category labels)."""
    return [f"{i} {readable_token(t)}" for i, t in enumerate(tokens)]


def _check_layer_head(att, layer, head=None):
    n_layers, n_heads = att.shape[:2]
    if not -n_layers <= layer < n_layers:
        raise ExplorerError(f"layer {layer} does not exist: layers run 0..{n_layers - 1}")
    if head is not None and not -n_heads <= head < n_heads:
        raise ExplorerError(f"head {head} does not exist: heads run 0..{n_heads - 1}")


def matrix_figure(matrix: np.ndarray, labels: list[str], title: str, cols: list[str] | None = None,
                  colorscale="Blues") -> go.Figure:
    """A heatmap of labelled tokens (rows attend / draw on columns), on category axes (a token "7" stays a label)."""
    cols = labels if cols is None else cols
    size = max(len(labels), len(cols))
    fig = go.Figure(go.Heatmap(
        z=matrix.astype(np.float32), x=cols, y=labels, colorscale=colorscale, zmin=0,
        hovertemplate="%{y} → %{x}: %{z:.3f}<extra></extra>"))
    fig.update_yaxes(type="category", autorange="reversed", showticklabels=size <= 128, title="query / output token")
    fig.update_xaxes(type="category", showticklabels=size <= 128, title="key / input token", tickangle=-60)
    side = int(min(1000, max(420, 14 * size)))
    fig.update_layout(title=title, height=side + 120, width=side + 160)
    return fig


def head_heatmap(trace: Trace, layer: int, head: int) -> go.Figure:
    """One head's attention matrix."""
    att = attention(trace)
    _check_layer_head(att, layer, head)
    title = f"{trace.model}: layer {layer % att.shape[0] + 1}, head {head % att.shape[1] + 1}"  # numbered from 1
    return matrix_figure(att[layer, head], token_labels(trace.tokens), title)


def rollout_figure(trace: Trace, layer: int = -1) -> go.Figure:
    """Rollout up to ``layer`` (the top by default): what each token draws on, residual paths included."""
    att = attention(trace)
    _check_layer_head(att, layer)
    shown = layer % att.shape[0]
    return matrix_figure(rollout(att)[shown], token_labels(trace.tokens),
                         f"{trace.model}: attention rollout to layer {shown + 1}", colorscale="Purples")


def flow_figure(flow: Flow, tokens: list[str], model_name: str = "") -> go.Figure:
    """Attention flow from each input token (columns) to the chosen output tokens (rows)."""
    labels = token_labels(tokens)  # numbered by position in the input, so output 12 reads "12 ..."
    return matrix_figure(flow.flow, [labels[o] for o in flow.outputs], f"{model_name}: attention flow".strip(": "),
                         cols=labels, colorscale="Oranges")


def _pool(matrix: np.ndarray, size: int) -> np.ndarray:
    """Shrink [..., T, T] to at most size x size blocks: rows averaged, columns summed, so rows still sum to 1."""
    n = matrix.shape[-1]
    if n <= size:
        return matrix
    edges = np.linspace(0, n, size + 1).astype(int)[:-1]
    rows = np.add.reduceat(matrix, edges, axis=-2) / np.diff(np.append(edges, n))[:, None]
    return np.add.reduceat(rows, edges, axis=-1)


def _pooled_labels(tokens: list[str], size: int) -> list[str]:
    """Labels of the blocks _pool makes: the tokens themselves, or position ranges once pooled."""
    n = len(tokens)
    if n <= size:
        return token_labels(tokens)
    edges = np.append(np.linspace(0, n, size + 1).astype(int)[:-1], n)
    return [f"{a}–{b - 1}" for a, b in zip(edges[:-1], edges[1:])]


MODEL_VIEW_LABELS = 24  # token labels along the grid's edges up to this many rows; hover names them beyond


def model_view(trace: Trace, cell: int = 48) -> go.Figure:
    """All heads at once, bertviz's model view: a layers x heads grid of heatmaps on shared token axes (labelled
    along the left column and the bottom row), long inputs pooled into cell x cell blocks."""
    att = attention(trace)
    n_layers, n_heads, n_tokens, _ = att.shape
    pooled = _pool(att, cell)
    labels = _pooled_labels(trace.tokens, cell)
    fig = make_subplots(rows=n_layers, cols=n_heads, shared_xaxes=True, shared_yaxes=True,
                        horizontal_spacing=0.1 / n_heads, vertical_spacing=0.1 / n_layers,
                        row_titles=[f"layer {l + 1}" for l in range(n_layers)],
                        column_titles=[f"head {h + 1}" for h in range(n_heads)])
    for l in range(n_layers):
        for h in range(n_heads):
            fig.add_trace(go.Heatmap(
                z=pooled[l, h], x=labels, y=labels, coloraxis="coloraxis",
                hovertemplate=f"layer {l + 1}, head {h + 1}<br>%{{y}} → %{{x}}: %{{z:.3f}}<extra></extra>"),
                row=l + 1, col=h + 1)
    shown = len(labels) <= MODEL_VIEW_LABELS
    fig.update_xaxes(type="category", showticklabels=False, tickangle=-60)
    fig.update_xaxes(showticklabels=shown, row=n_layers)
    fig.update_yaxes(type="category", autorange="reversed", showticklabels=False)
    fig.update_yaxes(showticklabels=shown, col=1)
    side = int(min(220, 1100 / n_heads))  # square cells that fill a wide page
    note = f" (pooled from {n_tokens} tokens to {len(labels)})" if len(labels) < n_tokens else ""
    fig.update_layout(title=f"{trace.model}: every head, rows attend to columns{note}", coloraxis=dict(
        colorscale="Blues", cmin=0, showscale=False), height=min(6000, n_layers * side + 200), plot_bgcolor="white")
    return fig


_OPACITY_BINS = np.array([0.0, 0.1, 0.25, 0.5])  # weights at or above each edge share one line trace


def _edges(weights: np.ndarray, top_k: int | None, min_weight: float):
    """(query, key, weight) of the edges drawn: at most top_k per query, none below min_weight or at zero."""
    keep = (weights >= min_weight) & (weights > 0)
    if top_k is not None and top_k < weights.shape[-1]:
        strongest = np.zeros_like(keep)
        np.put_along_axis(strongest, np.argsort(-weights, axis=-1)[:, :top_k], True, axis=-1)
        keep &= strongest
    q, k = np.nonzero(keep)
    return q, k, weights[q, k]


def head_view(trace: Trace, layer: int, heads: list[int] | None = None, top_k: int | None = None,
              min_weight: float = 0.02) -> go.Figure:
    """bertviz-style lines from each token (left) to the tokens it attends to (right), one colour per head.

    Line width and opacity grow with the weight. By default each token keeps its strongest edges so
    that the view draws about HEAD_VIEW_EDGES lines (at least one per token and head).
    """
    att = attention(trace)
    _check_layer_head(att, layer)
    n_heads, n_tokens = att.shape[1], att.shape[-1]
    heads = list(range(n_heads)) if heads is None else heads
    for h in heads:
        _check_layer_head(att, layer, h)
    if top_k is None and n_tokens * n_tokens * len(heads) > HEAD_VIEW_EDGES:
        top_k = max(1, HEAD_VIEW_EDGES // (n_tokens * len(heads)))
    edges = {h: _edges(att[layer, h], top_k, min_weight) for h in heads}
    scatter = go.Scattergl if sum(len(w) for _, _, w in edges.values()) > GL_LINES else go.Scatter
    palette = qualitative.Plotly + qualitative.D3
    fig = go.Figure()
    for h, (q, k, w) in edges.items():
        which = np.searchsorted(_OPACITY_BINS, w, side="right") - 1
        first = True  # one legend entry per head, on its first drawn bin
        for b in range(len(_OPACITY_BINS)):
            sel = which == b
            if not sel.any():
                continue
            xs = np.tile(np.array([0.0, 1.0, np.nan], dtype=np.float32), int(sel.sum()))
            ys = np.stack([-q[sel], -k[sel], np.full(sel.sum(), np.nan)], axis=1).ravel().astype(np.float32)
            high = _OPACITY_BINS[b + 1] if b + 1 < len(_OPACITY_BINS) else 1.0
            fig.add_trace(scatter(
                x=xs, y=ys, mode="lines", line=dict(color=palette[h % len(palette)], width=1 + 3 * high),
                opacity=0.15 + 0.85 * high, name=f"head {h + 1}", legendgroup=f"head {h}", showlegend=first,
                hoverinfo="skip"))
            first = False
    _token_columns(fig, trace.tokens)
    title = f"{trace.model}: layer {layer % att.shape[0] + 1}" + (f" (top {top_k} edges per token)" if top_k else "")
    fig.update_layout(title=title, height=int(min(4000, max(400, 16 * n_tokens + 150))), width=700,
                      plot_bgcolor="white", legend=dict(title="click to hide"))
    fig.update_xaxes(visible=False, range=[-0.6, 1.6])
    fig.update_yaxes(visible=False)
    return fig


def _token_columns(fig: go.Figure, tokens: list[str]):
    """The tokens as two columns; with many tokens only every n-th carries a label (all show on hover)."""
    n = len(tokens)
    step = max(1, math.ceil(n / 128))
    ys = -np.arange(n)
    labels = [readable_token(t) if i % step == 0 else "" for i, t in enumerate(tokens)]
    for x, pos in ((0.0, "middle left"), (1.0, "middle right")):
        fig.add_trace(go.Scatter(
            x=np.full(n, x), y=ys, mode="markers+text", text=labels, textposition=pos,
            marker=dict(size=4, color="#444"), hovertext=token_labels(tokens), hoverinfo="text",
            showlegend=False, textfont=dict(size=11 if step == 1 else 9)))
