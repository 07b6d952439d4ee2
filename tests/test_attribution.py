"""Attribution: integrated gradients add up to the output difference (within the reported delta) for every family."""
import numpy as np
import pytest
import torch
from conftest import make_tiny

from explorer.analysis import prediction as P
from explorer.analysis.attribution import attribute, attribution_figure, attribution_html
from explorer.errors import ExplorerError

TEXTS = {"bert": "the [MASK] barked at a child .", "elmo": "the ___ barked at a child ."}
CAUSAL_TEXT = "the old teacher found a"


def text_for(model):
    return TEXTS.get(model.family, CAUSAL_TEXT)


def test_integrated_gradients_sum_to_the_output_difference(any_family):
    model = any_family
    a = attribute(model, text_for(model), n_steps=32)
    s = P.slot(model, text_for(model))
    own = P.slot_log_probs(model, s)
    # the explained output is the target's log-probability, computed independently of Captum
    assert a.output == pytest.approx(float(own[a.target_id]), abs=1e-4)
    assert a.target_id == int(own.argmax()) and a.probability == pytest.approx(float(own.exp().max()), rel=1e-4)
    difference = a.output - a.baseline_output
    assert abs(float(a.scores.sum()) - difference) <= abs(a.delta) + 1e-5
    assert abs(a.delta) < 0.01 * max(1.0, abs(difference))  # converged
    assert len(a.scores) == len(a.tokens) and np.isfinite(a.scores).all()


def test_bert_baseline_keeps_specials_and_the_mask():
    bert = make_tiny("bert")
    text = TEXTS["bert"]
    a = attribute(bert, text, n_steps=16)
    tr = bert.trace(text)
    keep = {bert.tokenizer.cls_token_id, bert.tokenizer.sep_token_id, bert.tokenizer.mask_token_id}
    baseline = torch.tensor([i if i in keep else bert.tokenizer.pad_token_id for i in tr.input_ids.tolist()])
    with torch.no_grad():
        out = bert.net(input_ids=baseline[None], token_type_ids=torch.zeros_like(baseline)[None])
    position = tr.tokens.index("[MASK]")
    scores = out.prediction_logits[0, position]
    scores[bert.tokenizer.all_special_ids] = float("-inf")  # a blank holds a word, never a special token
    expected = scores.log_softmax(-1)[a.target_id]
    assert a.baseline_output == pytest.approx(float(expected), abs=1e-4)
    assert a.tokens[position] == "[MASK]"


def test_elmo_slot_word_gets_no_attribution():
    elmo = make_tiny("elmo")
    a = attribute(elmo, TEXTS["elmo"], n_steps=16)
    assert a.tokens == ["the", "___", "barked", "at", "a", "child", "."]
    assert a.scores[1] == 0  # neither LM direction sees the slot itself
    assert a.context.startswith("both sides")


def test_gradient_x_input_is_the_fast_option(transformer_family):
    a = attribute(transformer_family, text_for(transformer_family), method="gradient_x_input")
    assert a.delta is None and len(a.scores) == len(a.tokens) and np.abs(a.scores).sum() > 0


def test_chosen_target_and_bad_input():
    gpt2 = make_tiny("gpt2")
    second = P.next_token(gpt2, CAUSAL_TEXT, top_k=2)
    token = gpt2.tokenizer.convert_ids_to_tokens(int(second["token_id"].iloc[1]))
    a = attribute(gpt2, CAUSAL_TEXT, target=token, n_steps=16)
    assert a.target_id == int(second["token_id"].iloc[1])
    assert a.probability == pytest.approx(second["probability"].iloc[1], rel=1e-4)
    with pytest.raises(ExplorerError, match="not one token"):
        attribute(gpt2, CAUSAL_TEXT, target="hippopotamus")
    with pytest.raises(ExplorerError, match="unknown attribution method"):
        attribute(gpt2, CAUSAL_TEXT, method="lime")
    with pytest.raises(ExplorerError, match=r"put \[MASK\]"):
        attribute(make_tiny("bert"), "the dog barked .")


def test_coloured_text_and_bar_chart():
    a = attribute(make_tiny("gpt"), CAUSAL_TEXT, method="gradient_x_input")
    html = attribution_html(a)
    assert html.count("<span") == len(a.tokens)
    assert "rgba(214,39,40" in html or "rgba(31,119,180" in html
    for token in a.tokens:
        assert f">{token}</span>" in html
    fig = attribution_figure(a)
    np.testing.assert_allclose(fig.data[0].y, a.scores)


def test_too_much_work_is_refused_before_it_starts_and_says_what_fits():
    model = make_tiny("elmo")  # no context limit: 10k words reach the network
    with pytest.raises(ExplorerError, match=r"10,00\d tokens over 50 steps .* up to [\d,]+ tokens fit"):
        attribute(model, "word " * 10_000 + "___ .", n_steps=50, yield_point=pytest.fail)


def test_the_yield_point_runs_between_batches_and_can_stop_the_work():
    model = make_tiny("gpt2")
    calls = []
    attribute(model, CAUSAL_TEXT, n_steps=8, yield_point=lambda: calls.append(1))
    assert len(calls) >= 2  # the integration batches, and the outputs for input and baseline

    class Stopped(BaseException):  # as Streamlit's StopException: not an Exception, so nothing swallows it
        pass

    def stop():
        raise Stopped

    with pytest.raises(Stopped):
        attribute(model, CAUSAL_TEXT, n_steps=8, yield_point=stop)
