"""Attention analyses: rollout and flow against hand computations, head scores on a planted head, views, export, CLI."""
import copy
import json
import math

import numpy as np
import pytest
import torch
from conftest import make_tiny

from explorer.analysis import attention as A
from explorer.analysis.export import data_bytes, figure_bytes, save_data
from explorer.analysis.induction import induction_scores
from explorer.cli import main
from explorer.errors import ExplorerError, TruncationWarning

TEXT = "The old teacher found a strange letter in the garden ."


def two_layer_example():
    """Two layers, two tokens; layer 1 has two heads whose mean is [[1, 0], [.5, .5]]."""
    att = np.zeros((2, 2, 2, 2))
    att[0, 0] = [[1, 0], [0.4, 0.6]]
    att[0, 1] = [[1, 0], [0.6, 0.4]]
    att[1, :] = [[1, 0], [0.2, 0.8]]
    return att


def test_rollout_matches_hand_computation_and_rows_sum_to_one():
    # residual-augmented layers: 0.5 * mean_heads + 0.5 * I  ->  [[1, 0], [.25, .75]] and [[1, 0], [.1, .9]]
    # rollout to layer 2 = [[1, 0], [.1, .9]] @ [[1, 0], [.25, .75]] = [[1, 0], [.325, .675]]
    rolled = A.rollout(two_layer_example())
    np.testing.assert_allclose(rolled[0], [[1, 0], [0.25, 0.75]])
    np.testing.assert_allclose(rolled[1], [[1, 0], [0.325, 0.675]])


def test_rollout_rows_sum_to_one_on_a_model(transformer_family):
    rolled = A.rollout(A.attention(transformer_family.trace(TEXT)))
    np.testing.assert_allclose(rolled.sum(-1), 1, atol=1e-5)
    assert (rolled >= 0).all()


def test_flow_matches_hand_computed_max_flow():
    # Edges into output token 1 at the top: from layer-1 token 0 (capacity .1) and token 1 (.9).
    # Into layer-1 token 1: from input 0 (.25) and input 1 (.75); into layer-1 token 0: from input 0 (1).
    # Input 0 -> out 1: min(1, .1) + min(.25, .9) = .35; input 1 -> out 1: min(.75, .9) = .75.
    flow = A.attention_flow(two_layer_example())
    np.testing.assert_allclose(flow.flow, [[1, 0], [0.35, 0.75]], atol=1e-7)
    # flow is not rollout: rollout gives .325 / .675 for the same token
    assert not np.allclose(flow.flow[1], A.rollout(two_layer_example())[-1][1])


def test_flow_for_chosen_outputs_and_refusal_above_the_cap():
    att = A.attention(make_tiny("gpt2").trace(TEXT))
    assert A.attention_flow(att, [3]).flow.shape == (1, att.shape[-1])
    with pytest.raises(ExplorerError, match="do not exist"):
        A.attention_flow(att, [999])
    big = np.full((12, 1, 200, 200), 1 / 200)
    with pytest.raises(ExplorerError, match="rollout"):
        A.attention_flow(big, [0])


def planted_previous_token_model():
    """A GPT-2 whose layer-0 head 1 attends to the previous token by construction.

    Positions are encoded as (cos, sin, -cos, -sin) of four angles (zero mean, fixed norm, so
    LayerNorm only rescales them); the head's query rotates position i back by one step and its key
    reads position j unrotated, so q_i . k_j = S * sum_f cos(theta_f (i - 1 - j)), largest at j = i - 1.
    """
    model = copy.deepcopy(make_tiny("gpt2"))
    net = model.net.transformer
    d, head_dim = net.wte.weight.shape[1], net.config.n_embd // net.config.n_head
    thetas = 2 * math.pi * torch.tensor([1, 2, 4, 8]) / 128
    pos = torch.arange(net.wpe.weight.shape[0])[:, None] * thetas
    with torch.no_grad():
        net.wte.weight.zero_()
        net.wpe.weight.zero_()
        for f in range(4):
            net.wpe.weight[:, 4 * f: 4 * f + 4] = torch.stack(
                [pos[:, f].cos(), pos[:, f].sin(), -pos[:, f].cos(), -pos[:, f].sin()], dim=1)
        w, b = net.h[0].attn.c_attn.weight, net.h[0].attn.c_attn.bias
        q0, k0 = head_dim, d + head_dim  # head 1's query and key columns
        w[:, q0: q0 + head_dim] = 0
        w[:, k0: k0 + head_dim] = 0
        b[q0: q0 + head_dim] = 0
        b[k0: k0 + head_dim] = 0
        scale = 100.0
        for f, t in enumerate(thetas):
            c, s = math.cos(t), math.sin(t)
            w[4 * f, q0 + 2 * f], w[4 * f + 1, q0 + 2 * f] = scale * c, scale * s
            w[4 * f + 1, q0 + 2 * f + 1], w[4 * f, q0 + 2 * f + 1] = scale * c, -scale * s
            w[4 * f, k0 + 2 * f], w[4 * f + 1, k0 + 2 * f + 1] = 1.0, 1.0
    return model


def test_planted_previous_token_head_is_found():
    model = planted_previous_token_model()
    trace = model.trace(TEXT)
    legend = [t.name for t in A.head_view(trace, 0).data if t.showlegend]
    assert legend == ["head 1", "head 2"]  # head 2 draws only strong lines, and still has its legend entry
    scores = A.head_scores(trace)
    best = scores.loc[scores["previous_token"].idxmax()]
    assert (best["layer"], best["head"]) == (0, 1)
    assert best["previous_token"] > 0.95
    others = scores[(scores["layer"] != 0) | (scores["head"] != 1)]
    assert others["previous_token"].max() < 0.6


def test_head_scores_columns_and_special_tokens():
    bert = make_tiny("bert")
    tr = bert.trace(TEXT)
    scores = A.head_scores(tr)
    assert len(scores) == bert.n_layers * bert.n_heads
    assert {"entropy", "previous_token", "to_first", "to_[CLS]", "to_[SEP]"} <= set(scores.columns)
    np.testing.assert_allclose(scores["to_first"], scores["to_[CLS]"])  # [CLS] is the first token
    assert (scores["entropy"] >= 0).all() and (scores["entropy"] <= math.log(len(tr.tokens)) + 1e-6).all()
    gpt2 = make_tiny("gpt2")
    gpt2_scores = A.head_scores(gpt2.trace(TEXT), gpt2)
    assert not any(c.startswith("to_<") or c.startswith("to_[") for c in gpt2_scores.columns)
    np.testing.assert_allclose(gpt2_scores["induction"], induction_scores(gpt2).ravel())
    np.testing.assert_allclose(A.head_scores(tr, bert)["induction"], induction_scores(bert).ravel())


def test_elmo_has_no_attention_and_the_message_offers_attribution():
    with pytest.raises(ExplorerError, match="no attention") as info:
        A.attention(make_tiny("elmo").trace(TEXT))
    assert "attribution" in str(info.value)


def test_text_beyond_the_context_is_truncated_with_a_warning():
    model = make_tiny("bert")
    with pytest.warns(TruncationWarning):
        tr = model.trace(" ".join([TEXT] * 10))
    att = A.attention(tr)
    assert att.shape[-1] == model.max_len
    assert A.head_scores(tr).shape[0] == model.n_layers * model.n_heads


def test_views_draw_every_head_and_bound_long_inputs():
    model = make_tiny("gpt3")
    tr = model.trace(" ".join([TEXT] * 2))  # 60-odd tokens
    n = len(tr.tokens)
    full = A.head_view(tr, layer=1, top_k=n, min_weight=0.0)
    heads = {t.legendgroup for t in full.data if t.legendgroup}
    assert heads == {"head 0", "head 1"}
    capped = A.head_view(tr, layer=1, top_k=2, min_weight=0.0)
    segments = sum(int(np.isnan(np.asarray(t.y, dtype=float)).sum()) for t in capped.data if t.legendgroup)
    assert segments <= 2 * n * model.n_heads
    assert segments < sum(int(np.isnan(np.asarray(t.y, dtype=float)).sum()) for t in full.data if t.legendgroup)
    bert_trace = make_tiny("bert").trace(" ".join([TEXT] * 4))
    assert len(bert_trace.tokens) ** 2 * 2 > A.HEAD_VIEW_EDGES
    dense = A.head_view(bert_trace, layer=1, min_weight=0.0)  # budgeted to HEAD_VIEW_EDGES lines, drawn with WebGL
    lines = [t for t in dense.data if t.legendgroup]
    assert sum(int(np.isnan(np.asarray(t.y, dtype=float)).sum()) for t in lines) <= A.HEAD_VIEW_EDGES
    assert all(t.type == "scattergl" for t in lines) and "top" in dense.layout.title.text
    grid = A.model_view(tr, cell=16)
    assert len(grid.data) == 2 * 2 and np.asarray(grid.data[0].z).shape == (16, 16)  # 2 layers x 2 heads, pooled
    np.testing.assert_allclose(np.asarray(grid.data[0].z).sum(axis=1), 1, atol=1e-5)  # pooled rows still sum to 1
    assert f"pooled from {n} tokens" in grid.layout.title.text and grid.data[0].x[0].startswith("0–")
    short = model.trace("the cat sat")
    labelled = A.model_view(short)
    assert list(labelled.data[0].y) == A.token_labels(short.tokens)  # the tokens themselves, on both axes
    assert labelled.layout.yaxis.showticklabels and not labelled.layout.yaxis2.showticklabels  # the left column
    heat = A.head_heatmap(tr, 0, 1)
    np.testing.assert_allclose(np.asarray(heat.data[0].z), A.attention(tr)[0, 1], atol=1e-6)
    with pytest.raises(ExplorerError, match="head 7 does not exist"):
        A.head_heatmap(tr, 0, 7)


def test_export_figure_and_data(tmp_path):
    fig = A.rollout_figure(make_tiny("gpt").trace(TEXT))
    assert figure_bytes(fig, "svg").lstrip().startswith(b"<svg")
    html = figure_bytes(fig, "html").decode()
    assert 'src="http' not in html and len(html) > 1_000_000  # plotly.js inlined: works offline
    scores = A.head_scores(make_tiny("gpt").trace(TEXT))
    assert data_bytes(scores, "csv").decode().splitlines()[0].startswith("layer,head,entropy")
    path = save_data({"rollout": np.eye(3)}, tmp_path / "r.json")
    assert json.loads(path.read_text())["rollout"][1] == [0, 1, 0]
    with pytest.raises(ExplorerError, match=r"\.csv"):
        save_data(scores, tmp_path / "scores.xlsx")


def test_cli_writes_matrices_scores_and_figures(tmp_path, capsys):
    folder = copy.deepcopy(make_tiny("bert")).save(tmp_path / "bert", card={})
    out = tmp_path / "out"
    assert main(["attention", str(folder), TEXT, "--out", str(out), "--png"]) == 0
    for name in ("attention.npz", "attention.json", "head_scores.csv", "model_view.html", "model_view.png",
                 "rollout.html", "flow.html", "head_view_layer1.html", "head_layer1_head0.png"):
        assert (out / name).stat().st_size > 0, name
    saved = np.load(out / "attention.npz")
    assert saved["attentions"].shape[:2] == (2, 2) and list(saved["tokens"][:1]) == ["[CLS]"]
    assert "strongest previous-token head" in capsys.readouterr().out


def test_cli_attention_of_elmo_explains(tmp_path, capsys):
    folder = copy.deepcopy(make_tiny("elmo")).save(tmp_path / "elmo", card={})
    assert main(["attention", str(folder), TEXT, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "no attention" in err and "Traceback" not in err


def test_flow_rows_keep_the_chosen_tokens_positions_on_category_axes():
    flow = A.Flow([2], np.full((1, 4), 0.25))
    fig = A.flow_figure(flow, ["the", "7", "cat", "1"])
    assert list(fig.data[0].y) == ["2 cat"] and list(fig.data[0].x) == ["0 the", "1 7", "2 cat", "3 1"]
    assert fig.layout.xaxis.type == fig.layout.yaxis.type == "category"


def test_byte_level_space_marks_are_shown_as_visible_spaces():
    """gpt2's 'Ġcat' reads '␣cat' on the attention page as on Compare (one helper for both)."""
    from explorer.analysis.attention import token_labels

    assert token_labels(["The", "Ġcat", "Ċ"]) == ["0 The", "1 ␣cat", "2 ↵"]
