"""Prediction: fill-mask, NSP, next token, ELMo's two LMs, the side-by-side blank, the logit lens; contrasts; CLI."""
import collections
import copy
import warnings

import numpy as np
import pytest
import torch
from conftest import make_tiny, shared_data, shipped

from explorer.analysis import contrast as C
from explorer.analysis import prediction as P
from explorer.cli import main
from explorer.errors import ExplorerError, TruncationWarning

FAMILIES = ("elmo", "gpt", "bert", "gpt2", "gpt3")


def majority_upos(word: str) -> str | None:
    """The word's most frequent UPOS tag in UD English-EWT train (lower-cased)."""
    counts = collections.Counter()
    with open(shared_data("ud_english_ewt", "en_ewt-ud-train.conllu"), encoding="utf-8") as f:
        for line in f:
            cols = line.split("\t")
            if len(cols) == 10 and cols[1].lower() == word:
                counts[cols[3]] += 1
    return counts.most_common(1)[0][0] if counts else None


def word_probs(scores, tokenizer, starts_only=False):
    """Softmax over the tokens that may fill a blank: no special tokens (and, if asked, only Ġ-initial ones)."""
    tokens = tokenizer.convert_ids_to_tokens(list(range(scores.shape[-1])))
    keep = torch.tensor([i not in tokenizer.all_special_ids and (not starts_only or t.startswith("Ġ"))
                         for i, t in enumerate(tokens)])
    return scores.masked_fill(~keep, float("-inf")).softmax(-1)


@pytest.mark.xfail(strict=True, reason="known gap: bert-tiny's top 1 for the dog slot is an adjective ('little'; "
                   "'boy' is in its top 5, which test_training checks): a noun first needs a longer run. Strict.")
def test_shipped_bert_fills_the_dog_slot_with_a_noun():
    table = P.fill_mask(shipped("bert-tiny"), "the [MASK] barked .", top_k=5)
    top = table["token"].iloc[0]
    assert majority_upos(top) == "NOUN", f"top-1 is {top!r}; top-5: {table['token'].tolist()}"


def test_fill_mask_predicts_every_mask_from_the_mlm_head():
    bert = make_tiny("bert")
    text = "the [MASK] barked at the [MASK] ."
    table = P.fill_mask(bert, text, top_k=3)
    tr = bert.trace(text)
    positions = [i for i, t in enumerate(tr.tokens) if t == "[MASK]"]
    assert table.groupby("mask")["position"].first().tolist() == positions
    for position, rows in table.groupby("position"):
        probs = word_probs(tr.logits[position], bert.tokenizer)
        expected = probs.topk(3)
        np.testing.assert_allclose(rows["probability"], expected.values, rtol=1e-5)
        assert rows["token_id"].tolist() == expected.indices.tolist()
    assert (table.groupby("mask")["probability"].apply(lambda p: p.is_monotonic_decreasing)).all()


def test_fill_mask_without_a_mask_suggests_adding_one():
    with pytest.raises(ExplorerError, match=r"no \[MASK\].*put \[MASK\]"):
        P.fill_mask(make_tiny("bert"), "the dog barked .")
    with pytest.raises(ExplorerError, match="not a masked LM"):
        P.fill_mask(make_tiny("gpt2"), "the [MASK] barked .")


def test_whole_word_mask_uses_one_mask_per_piece():
    bert = make_tiny("bert")
    word = next(w for w in ("strangest", "gardening", "teachers", "windowsill") if len(bert.tokenizer.tokenize(w)) > 1)
    masked, pieces = P.whole_word_mask(bert, f"the {word} barked .", word)
    assert masked == "the " + " ".join(["[MASK]"] * len(pieces)) + " barked ."
    assert P.fill_mask(bert, masked, top_k=1)["mask"].nunique() == len(pieces)
    with pytest.raises(ExplorerError, match="not a word of the text"):
        P.whole_word_mask(bert, "the dog barked .", "cat")


def test_nsp_probability():
    bert = make_tiny("bert")
    p = P.nsp_probability(bert, "the dog barked .", "it ran away .")
    tr = bert.trace("the dog barked .", pair="it ran away .")
    assert p == pytest.approx(float(tr.nsp_logits.softmax(-1)[0]))
    with pytest.raises(ExplorerError, match="BERT"):
        P.nsp_probability(make_tiny("gpt"), "a", "b")


@pytest.mark.parametrize("family", ["gpt", "gpt2", "gpt3"])
def test_next_token_is_the_last_position_of_the_trace(family):
    model = make_tiny(family)
    table = P.next_token(model, "the old dog", top_k=4)
    probs = model.trace("the old dog").logits[-1].softmax(-1)
    assert table["token_id"].tolist() == probs.topk(4).indices.tolist()
    np.testing.assert_allclose(table["probability"], probs.topk(4).values, rtol=1e-5)


def test_elmo_directions_see_only_their_side():
    elmo = make_tiny("elmo")
    text = "the old dog barked at a child ."
    table = P.elmo_predictions(elmo, text, word=3, top_k=3)
    assert table["direction"].unique().tolist() == ["forward", "backward", "both"]
    tr = elmo.trace(text)  # logits[0, t] predict word t+1; logits[1, t] predict word t-1
    forward = table[table.direction == "forward"]
    backward = table[table.direction == "backward"]
    tok = elmo.tokenizer
    np.testing.assert_allclose(forward["probability"], word_probs(tr.logits[0, 2], tok).topk(3).values, rtol=1e-4)
    np.testing.assert_allclose(backward["probability"], word_probs(tr.logits[1, 4], tok).topk(3).values, rtol=1e-4)
    both = word_probs(tr.logits[0, 2].log_softmax(-1) + tr.logits[1, 4].log_softmax(-1), tok)
    np.testing.assert_allclose(table[table.direction == "both"]["probability"], both.topk(3).values, rtol=1e-4)
    assert "<unk>" not in table["token"].tolist()  # a blank holds a word


def test_blank_table_asks_each_model_its_own_way():
    models = [make_tiny(f) for f in FAMILIES]
    table = P.blank_table(models, "the ___ barked at a child .", top_k=3)
    assert table.groupby("model", sort=False).size().tolist() == [3] * 5
    context = dict(zip(table["family"], table["context"]))
    assert context["bert"].startswith("both sides") and context["elmo"].startswith("both sides")
    assert all(context[f].startswith("left context") for f in ("gpt", "gpt2", "gpt3"))
    # a blank holds a word: GPT-2's next-token distribution after "the", renormalised over Ġ-initial tokens
    gpt2 = make_tiny("gpt2")
    expected = word_probs(gpt2.trace("the").logits[-1], gpt2.tokenizer, starts_only=True).topk(3)
    blank = table[table.family == "gpt2"]
    np.testing.assert_allclose(blank["probability"], expected.values, rtol=1e-5)
    assert blank["token"].tolist() == [P.display_token(gpt2.tokenizer, i) for i in expected.indices.tolist()]
    gpt = make_tiny("gpt")  # GPT's BPE ends words with </w>: every next token starts a word
    expected = word_probs(gpt.trace("the").logits[-1], gpt.tokenizer).topk(3)
    np.testing.assert_allclose(table[table.family == "gpt"]["probability"], expected.values, rtol=1e-5)
    bert = table[table.family == "bert"]
    expected = P.fill_mask(make_tiny("bert"), "the [MASK] barked at a child .", 3)
    assert bert["token"].tolist() == expected["token"].tolist()
    with pytest.raises(ExplorerError, match="exactly one blank"):
        P.blank_table(models, "the ___ barked at the ___ .")


@pytest.mark.parametrize("family", ["gpt", "bert", "gpt2", "gpt3"])
def test_logit_lens_last_layer_is_the_models_own_prediction(family):
    model = make_tiny(family)
    text = "the [MASK] barked ." if family == "bert" else "the old dog"
    lens = P.logit_lens(model, text)
    s = P.slot(model, text)
    own = P.slot_log_probs(model, s).exp()
    last = lens.iloc[-1]
    assert len(lens) == model.n_layers + 1
    assert last["rank"] == 1 and last["top_token"] == P.display_token(model.tokenizer, int(own.argmax()))
    assert last["probability"] == pytest.approx(float(own.max()), rel=1e-4)
    # a chosen target: its rank at the top layer is its rank in the model's own distribution
    second = int(own.topk(2).indices[1])
    chosen = P.logit_lens(model, text, target=model.tokenizer.convert_ids_to_tokens(second))
    assert chosen["rank"].iloc[-1] == 2
    assert chosen["probability"].iloc[-1] == pytest.approx(float(own[second]), rel=1e-4)


def test_logit_lens_for_a_blank_reads_whole_words():
    gpt2 = make_tiny("gpt2")
    lens = P.logit_lens(gpt2, "the ___ barked .")
    blank = P.blank_table([gpt2], "the ___ barked .", top_k=1)
    assert lens["top_token"].iloc[-1] == blank["token"].iloc[0]
    assert lens["probability"].iloc[-1] == pytest.approx(blank["probability"].iloc[0], rel=1e-4)


def test_logit_lens_applies_the_final_norm_below_the_top():
    gpt2 = make_tiny("gpt2")
    lens = P.logit_lens(gpt2, "the old dog")
    tr = gpt2.trace("the old dog")
    net = gpt2.net
    with torch.no_grad():
        expected = net.lm_head(net.transformer.ln_f(tr.hidden[1, -1])).softmax(-1).max()
    assert lens["top_probability"].iloc[1] == pytest.approx(float(expected), rel=1e-4)


def test_target_not_in_the_vocabulary():
    with pytest.raises(ExplorerError, match="not one token"):
        P.logit_lens(make_tiny("gpt2"), "the old dog", target="hippopotamus")
    with pytest.raises(ExplorerError, match="cannot fill a blank"):
        P.logit_lens(make_tiny("gpt2"), "the ___ barked .", target="ld")
    with pytest.raises(ExplorerError, match="unknown"):
        P.logit_lens(make_tiny("bert"), "the [MASK] barked .", target="zzzq")
    with pytest.raises(ExplorerError, match="ELMo"):
        P.logit_lens(make_tiny("elmo"), "the old dog")


def test_a_checkpoint_without_a_head_says_so(minilm_path):
    import explorer

    with pytest.raises(ExplorerError, match="no prediction head"):
        P.fill_mask(explorer.load(str(minilm_path)), "the [MASK] barked .")


def test_long_text_keeps_the_end_for_next_token_with_a_warning():
    gpt2 = make_tiny("gpt2")
    long = " ".join(["the old teacher found a letter ."] * 12) + " the old dog"
    with pytest.warns(TruncationWarning, match="kept its last"):
        table = P.next_token(gpt2, long)
    s = P.slot(gpt2, long)
    assert len(s.trace.tokens) <= gpt2.max_len and s.trace.tokens[-1] == "g"  # ends with "...do g"
    assert table["token"].iloc[0] == P.display_token(gpt2.tokenizer, int(P.slot_log_probs(gpt2, s).argmax()))
    with pytest.warns(TruncationWarning):
        P.fill_mask(make_tiny("bert"), "the [MASK] barked . " + " ".join(["the old dog barked ."] * 20))
    with pytest.raises(ExplorerError, match="beyond"), warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)
        P.fill_mask(make_tiny("bert"), " ".join(["the old dog barked ."] * 20) + " the [MASK] barked .")


def test_tokenization_side_by_side():
    models = [make_tiny(f) for f in FAMILIES]
    text = "The quiet teacher answered twice."
    table = C.tokenization_table(models, text)
    assert table["word"].tolist()[:-2] == ["The", "quiet", "teacher", "answered", "twice", "."]
    elmo, bert = table.columns[1], table.columns[3]
    assert table[elmo].iloc[1] == "q u i e t"  # ELMo reads characters
    assert table[bert].iloc[-2] == "[CLS] [SEP]"
    for model, column in zip(models, table.columns[1:]):
        assert int(table[column].iloc[-1]) == len(model.trace(text).tokens)
    fig = C.tokenization_figure(table)
    assert len(fig.data) == len(models)


def test_bert_embedding_parts_add_up_to_the_first_layers_input():
    bert = make_tiny("bert")
    table = C.bert_embedding_parts(bert, "the dog barked .", pair="it ran .")
    tr = bert.trace("the dog barked .", pair="it ran .")
    assert table["segment"].tolist() == tr.segment_ids and 1 in tr.segment_ids
    emb = bert.net.bert.embeddings
    with torch.no_grad():
        total = (emb.word_embeddings(tr.input_ids) + emb.token_type_embeddings(torch.tensor(tr.segment_ids))
                 + emb.position_embeddings(torch.arange(len(tr.tokens))))
        np.testing.assert_allclose(emb.LayerNorm(total).norm(dim=-1), table["layer_input_norm"], rtol=1e-4)
    np.testing.assert_allclose(total.norm(dim=-1), table["sum_norm"], rtol=1e-4)
    with pytest.raises(ExplorerError, match="only BERT"):
        C.bert_embedding_parts(make_tiny("gpt2"), "the dog")


def test_cli_predict_side_by_side(tmp_path, capsys):
    folders = [copy.deepcopy(make_tiny(f)).save(tmp_path / f, card={}) for f in ("bert", "gpt2")]
    assert main(["predict", str(folders[0]), "the [MASK] barked .", "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert "bert" in out and "probability" in out
    assert main(["predict", str(folders[0]), "the ___ barked .", "--model", str(folders[1]), "--lens"]) == 0
    out = capsys.readouterr().out
    assert "left context" in out and "both sides" in out and "logit lens" in out
    assert main(["predict", str(folders[0]), "no blank here"]) == 2
    assert "put [MASK]" in capsys.readouterr().err


def test_logit_lens_rank_axis_has_integer_ticks_only():
    import pandas as pd

    table = pd.DataFrame({"layer": range(4), "target": "cat", "rank": [6, 2, 240, 1],
                          "probability": [0.1, 0.2, 0.0, 0.5], "top_token": ["a", "b", "c", "cat"]})
    axis = P.logit_lens_figure(table).layout.yaxis2
    assert list(axis.tickvals) == [1, 2, 5, 10, 20, 50, 100, 200]
    assert all(float(t).is_integer() for t in axis.tickvals) and list(axis.ticktext) == [str(t) for t in axis.tickvals]
