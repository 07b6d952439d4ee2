"""Attention: head view, model view, one head, rollout and flow, head scores — for one transformer at a time."""
import pandas as pd
import plotly.express as px
import streamlit as st

from explorer import analysis
from explorer.ui import common

DEFAULT = "The cat sat on the mat because it was tired ."
VIEWS = ["Head view", "Model view", "One head", "Rollout and flow", "Head scores"]


def render():
    st.title("Attention")
    st.markdown("What each token looks at, layer by layer. BERT looks both ways and leans on `[CLS]` and `[SEP]`; "
                "GPT and GPT-2 look only left; GPT-3's local layers look only at a nearby band. ELMo has no "
                "attention: see what its predictions depend on in **Attribution**.")
    names = common.require_models()
    name = common.one_model(names, "attention-model", lambda f: f.attention, "attention needs a transformer (not ELMo)")
    if name is None:
        return
    text = common.sentence("Sentence", DEFAULT, key="attention-text")
    pair = None
    if common.spec_of(name).pairs:
        pair = st.text_input("Second sentence (optional: BERT reads a pair with segments A and B)", "",
                             key="attention-pair").strip() or None
    if text is None:
        return
    view = st.segmented_control("View", VIEWS, default=VIEWS[0], key="attention-view") or VIEWS[0]
    with common.guard("Drawing the attention"):
        shape = attention_shape(name, text, pair)
        {"Head view": head_view, "Model view": model_view, "One head": one_head,
         "Rollout and flow": rollout_and_flow, "Head scores": head_scores}[view](name, text, pair, shape)


@common.cached
def attention_shape(name: str, text: str, pair) -> dict:
    trace = common.load_model(name).trace(text, pair=pair)
    layers, heads, tokens, _ = analysis.attention.attention(trace).shape
    return dict(layers=layers, heads=heads, tokens=tokens, labels=analysis.attention.token_labels(trace.tokens),
                layer_names=analysis.induction.layer_names(common.load_model(name)))


def _head(h: int) -> str:
    return f"head {h + 1}"  # layers and heads are numbered from 1 on every page


def _trace(name, text, pair):
    return common.load_model(name).trace(text, pair=pair)


def _layer(shape, key, label="Layer"):
    return st.select_slider(label, range(shape["layers"]), format_func=lambda i: shape["layer_names"][i], key=key)


# -- views ------------------------------------------------------------------------------------------------
def head_view(name, text, pair, shape):
    st.caption("Lines from each token (left) to the tokens it attends to (right), one colour per head; thicker and "
               "darker lines carry more weight. Click a head in the legend to hide it.")
    cols = st.columns([2, 2, 1])
    with cols[0]:
        layer = _layer(shape, "attention-head-layer")
    heads = cols[1].multiselect("Heads", list(range(shape["heads"])), [0], format_func=_head,
                                key="attention-heads")  # one head by default: all of them at once is unreadable
    top_k = cols[2].number_input("Edges per token (0: all)", 0, 64, 0, key="attention-topk")
    fig = head_view_figure(name, text, pair, layer, tuple(heads), int(top_k) or None)
    fig.update_layout(width=None, height=min(4000, max(420, 28 * shape["tokens"] + 140)))
    common.chart(fig, key="attention-head-view", name=f"head-view-layer{layer}")


@common.cached
def head_view_figure(name, text, pair, layer, heads, top_k):
    return analysis.attention.head_view(_trace(name, text, pair), layer, list(heads), top_k)


def model_view(name, text, pair, shape):
    st.caption("Every head of every layer at once: each square is one head's token-to-token attention (rows "
               "attend to columns), tokens labelled along the left and bottom edges for short inputs; hover names "
               "the layer, the head and both tokens.")
    common.chart(model_view_figure(name, text, pair), key="attention-model-view", name="model-view")


@common.cached
def model_view_figure(name, text, pair):
    return analysis.attention.model_view(_trace(name, text, pair))


def one_head(name, text, pair, shape):
    cols = st.columns(2)
    with cols[0]:
        layer = _layer(shape, "attention-one-layer")
    with cols[1]:
        head = st.select_slider("Head", range(shape["heads"]), format_func=_head, key="attention-one-head")
    fig, matrix = head_matrix(name, text, pair, layer, head)
    common.chart(fig, key="attention-one", data=matrix, name=f"attention-layer{layer}-head{head}")


@common.cached
def head_matrix(name, text, pair, layer, head):
    trace = _trace(name, text, pair)
    matrix = analysis.attention.attention(trace)[layer, head]
    labels = analysis.attention.token_labels(trace.tokens)
    table = pd.DataFrame(matrix, index=labels, columns=labels).reset_index(names="query")
    return analysis.attention.head_heatmap(trace, layer, head), table


def rollout_and_flow(name, text, pair, shape):
    st.caption("Attention rollout (Abnar & Zuidema 2020) multiplies the layers' attention, with the residual "
               "connection as an identity, to say what each token draws on from the input. Attention flow treats "
               "the layers as a network of pipes and measures the maximum flow from each input token.")
    layer = _layer(shape, "attention-rollout-layer", "Up to layer")
    common.chart(rollout_figure(name, text, pair, layer), key="attention-rollout", name=f"rollout-layer{layer}")
    st.subheader("Attention flow", anchor=False)
    last = shape["tokens"] - 1
    outputs = st.multiselect("Into these output tokens", range(shape["tokens"]), [last],
                             format_func=lambda i: shape["labels"][i], key="attention-flow-outputs")
    if not outputs:
        st.info("Choose at least one output token.", icon=":material/info:")
        return
    with common.guard("Attention flow"):
        fig, table = flow(name, text, pair, tuple(outputs))
        common.chart(fig, key="attention-flow", data=table, name="attention-flow")


@common.cached
def rollout_figure(name, text, pair, layer):
    return analysis.attention.rollout_figure(_trace(name, text, pair), layer)


@common.cached
def flow(name, text, pair, outputs):
    trace = _trace(name, text, pair)
    result = analysis.attention.attention_flow(analysis.attention.attention(trace), list(outputs))
    labels = analysis.attention.token_labels(trace.tokens)
    table = pd.DataFrame(result.flow, index=[labels[o] for o in result.outputs], columns=labels)
    return analysis.attention.flow_figure(result, trace.tokens, common.label(name)), table.reset_index(names="output")


def head_scores(name, text, pair, shape):
    st.caption("What kind of head each one is on this input: entropy (low = focused), weight on the previous token, "
               "on the first token and on special tokens, and the induction score (attention to the token after an "
               "earlier copy, on repeated random tokens).")
    table = scores(name, text, pair)
    columns = [c for c in table.columns if c not in ("layer", "head")]
    score = st.selectbox("Score", columns, index=columns.index("previous_token"), key="attention-score")
    grid = table.pivot(index="layer", columns="head", values=score)
    fig = px.imshow(grid, color_continuous_scale="Viridis", aspect="auto", text_auto=".2f",
                    labels=dict(x="head", y="layer", color=score), title=f"{common.label(name)}: {score} per head")
    fig.update_yaxes(tickvals=list(grid.index), ticktext=[shape["layer_names"][i] for i in grid.index])
    fig.update_xaxes(tickvals=list(grid.columns), ticktext=[_head(h) for h in grid.columns])  # integer ticks
    fig.update_layout(height=160 + 48 * shape["layers"])
    common.chart(fig, key="attention-scores", data=table, name="head-scores")


@common.cached
def scores(name, text, pair) -> pd.DataFrame:
    model = common.load_model(name)
    return analysis.attention.head_scores(model.trace(text, pair=pair), model)


if __name__ == "__main__":
    render()
