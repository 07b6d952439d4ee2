"""The foundation: every family behind one Trace, checkpoints, real MiniLM, and bad input."""
import json
import shutil

import pytest
import torch

import explorer
from explorer import ExplorerError, TruncationWarning
from tests.conftest import make_tiny

SENTENCE = "The strange teacher answered 1999 questions 😀 ."


def test_trace_shapes_and_alignment(any_family):
    tr = any_family.trace(SENTENCE)
    n = len(tr.tokens)
    assert tr.words == ["The", "strange", "teacher", "answered", "1999", "questions", "😀", "."]
    assert tr.hidden.shape == (any_family.n_layers + 1, n, tr.hidden.shape[-1])
    assert len(tr.word_ids) == n and len(tr.input_ids) == n
    # every word has tokens, in order, and each token's text comes from its word
    groups = tr.word_tokens()
    assert all(groups) and [g[0] for g in groups] == sorted(g[0] for g in groups)
    assert tr.word_vectors(1).shape == (len(tr.words), tr.hidden.shape[-1])
    assert torch.equal(tr.word_vectors(0, "first")[0], tr.hidden[0, groups[0][0]])


def test_words_split_into_several_tokens_map_to_one_word(transformer_family):
    tr = transformer_family.trace(words=["gardeners", "strange", "1999"])
    groups = tr.word_tokens()
    assert len(groups[0]) > 1, "a rare long word should need several sub-tokens"
    pieces = transformer_family.tokenizer.convert_tokens_to_string([tr.tokens[i] for i in groups[0]])
    assert pieces.strip().lower() == "gardeners"
    mean = tr.word_vectors(2, "mean")[0]
    assert torch.allclose(mean, tr.hidden[2, groups[0]].mean(0))


@pytest.mark.parametrize("family", ["gpt", "gpt2", "gpt3"])
def test_causal_attention_is_lower_triangular_and_normalised(family):
    att = make_tiny(family).trace(SENTENCE).attentions
    assert torch.count_nonzero(att.triu(1)) == 0
    assert torch.allclose(att.sum(-1), torch.ones(att.shape[:-1]), atol=1e-5)


def test_gpt3_local_layers_ignore_tokens_outside_the_window():
    model = make_tiny("gpt3")
    window = model.net.config.window_size
    att = model.trace(" ".join(["dog"] * 20)).attentions
    kinds = model.net.config.attention_layers
    assert kinds[:2] == ["global", "local"]
    n = att.shape[-1]
    outside = torch.ones(n, n).tril(-window).bool()
    for layer, kind in enumerate(kinds):
        weight_outside = att[layer][:, outside].abs().sum()
        if kind == "local":
            assert weight_outside == 0
        else:
            assert weight_outside > 0


def test_bert_pair_has_segments_and_nsp():
    tr = make_tiny("bert").trace("the dog barked .", pair="it was loud .")
    assert tr.segment_ids[0] == 0 and tr.segment_ids[-1] == 1
    assert sorted(set(tr.segment_ids)) == [0, 1]
    sep = tr.tokens.index("[SEP]")
    assert set(tr.segment_ids[: sep + 1]) == {0} and set(tr.segment_ids[sep + 1:]) == {1}
    assert tr.words == ["the", "dog", "barked", ".", "it", "was", "loud", "."]
    assert tr.nsp_logits.shape == (2,)


def test_elmo_has_three_layers_and_no_attention():
    tr = make_tiny("elmo").trace(SENTENCE)
    assert tr.attentions is None and tr.hidden.shape[0] == 3
    assert tr.tokens == tr.words


def test_padded_batch_equals_single_traces(any_family):
    texts = ["a dog .", "The strange teacher answered twice and then the old child opened a window ."]
    batch = any_family.trace_batch(texts, batch_size=2)
    for text, tr in zip(texts, batch):
        alone = any_family.trace(text, attentions=False, logits=False)
        assert tr.tokens == alone.tokens
        assert torch.allclose(tr.hidden, alone.hidden, atol=1e-5)


def test_save_load_round_trip_gives_identical_trace(any_family, tmp_path):
    before = any_family.trace(SENTENCE)
    any_family.save(tmp_path / "m", card={"note": "test"})
    loaded = explorer.load(str(tmp_path / "m"))
    after = loaded.trace(SENTENCE)
    assert loaded.family == any_family.family and loaded.card == {"note": "test"}
    assert after.tokens == before.tokens
    # weights are stored as float16, so traces agree to float16 precision
    assert torch.allclose(after.hidden, before.hidden, atol=2e-2, rtol=1e-2)


def test_real_minilm_loads_offline_and_knows_meaning(minilm_path):
    model = explorer.load(str(minilm_path))
    assert (model.family, model.n_layers, model.n_heads) == ("bert", 6, 12)

    def embed(text):
        return model.trace(text, attentions=False).hidden[-1].mean(0)

    cat, kitten = embed("A cat sleeps on the sofa."), embed("A kitten naps on the couch.")
    stocks = embed("Interest rates rose sharply in the bond market.")
    cos = torch.nn.functional.cosine_similarity
    assert cos(cat, kitten, dim=0) > cos(cat, stocks, dim=0) + 0.2


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_is_refused(text):
    with pytest.raises(ExplorerError, match="empty"):
        make_tiny("gpt2").trace(text)


def test_control_characters_are_refused():
    with pytest.raises(ExplorerError, match="control character U\\+0007"):
        make_tiny("bert").trace("the dog\x07 barked")


def test_ten_thousand_tokens_are_truncated_with_a_warning(any_family):
    with pytest.warns(TruncationWarning, match="cut to"):
        tr = any_family.trace(" ".join(["dog"] * 10_000), attentions=False, logits=False)
    assert tr.truncated and len(tr.tokens) <= any_family.max_len


def test_missing_path_and_folder_without_config(tmp_path):
    with pytest.raises(ExplorerError, match="does not exist"):
        explorer.load(str(tmp_path / "nowhere" / "model"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExplorerError, match="no config.json"):
        explorer.load(str(tmp_path / "empty"))


def test_truncated_safetensors_gives_a_clear_error(tmp_path):
    make_tiny("gpt2").save(tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ExplorerError, match="corrupted or truncated"):
        explorer.load(str(tmp_path / "m"))


def test_unsupported_architecture_is_named(tmp_path, minilm_path):
    shutil.copytree(minilm_path, tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config.update(model_type="t5", architectures=["T5ForConditionalGeneration"])
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ExplorerError, match="unsupported architecture 't5'"):
        explorer.load(str(tmp_path / "m"))


def test_unknown_hub_id_offline_explains(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ExplorerError, match="offline"):
        explorer.load("no-such-org/no-such-model")


def test_cli_trace_prints_tokens_and_predictions(tmp_path, capsys):
    from explorer.cli import main

    make_tiny("gpt2").save(tmp_path / "m")
    assert main(["trace", str(tmp_path / "m"), "the dog barked"]) == 0
    out = capsys.readouterr().out
    assert "gpt2" in out and "barked" in out and "|h2|" in out
    assert main(["trace", str(tmp_path / "m"), "   "]) == 2
    assert "empty" in capsys.readouterr().err


# -- token ids in: the entry points the analyses run networks through --------------------------------------
def test_scores_of_token_ids_are_the_traces_logits(transformer_family):
    tr = transformer_family.trace("The dog barked at the river .", pair="A child opened the window ."
                                  if transformer_family.spec.pairs else None)
    segments = torch.tensor(tr.segment_ids)[None] if tr.segment_ids else None
    with torch.no_grad():
        scores = transformer_family.scores(tr.input_ids[None], segment_ids=segments)
        assert torch.allclose(scores[0], tr.logits, atol=1e-5)
        assert torch.allclose(transformer_family.scores(tr.input_ids[None], segment_ids=segments, first=3)[0],
                              tr.logits[3:], atol=1e-5)


@pytest.mark.parametrize("family", ["gpt2", "gpt3", "llama"])
def test_scores_after_a_cached_prefix_equal_one_pass(family):
    model = make_tiny(family)
    ids = model.trace("The old dog barked at the red ship twice .").input_ids[None]
    with torch.no_grad():
        whole = model.scores(ids)
        after = model.scores(ids[:, 4:], prefix=model.prefix(ids[0, :4].tolist()), first=6)
    assert after.shape[1] == ids.shape[1] - 6 and torch.allclose(after, whole[:, 6:], atol=1e-5)


def test_a_network_without_a_cache_refuses_a_prefix():
    model = make_tiny("gpt")
    assert not model.takes_cache
    with pytest.raises(ExplorerError, match="keeps no cache"):
        model.prefix([1, 2, 3])


def test_attend_gives_every_layers_attention_and_the_kinds_of_gpt3s_layers():
    model = make_tiny("gpt3")
    ids = model.trace("The dog barked .").input_ids[None]
    with torch.no_grad():
        logits, attentions = model.attend(ids)
    assert attentions.shape == (model.n_layers, 1, model.n_heads, ids.shape[1], ids.shape[1])
    assert torch.allclose(logits, model.scores(ids), atol=1e-5)
    assert model.attention_kinds == model.net.config.attention_layers and make_tiny("gpt2").attention_kinds is None


def test_elmo_scores_a_word_from_each_side_as_its_trace_does():
    model = make_tiny("elmo")
    words = ["The", "dog", "barked", "twice", "."]
    tr = model.trace(words=words)
    with torch.no_grad():
        per = model.word_log_probs(*model.word_inputs(words), 2)
    assert torch.allclose(per["forward"][0], tr.logits[0, 1].log_softmax(-1), atol=1e-5)  # from "dog"
    assert torch.allclose(per["backward"][0], tr.logits[1, 3].log_softmax(-1), atol=1e-5)  # from "twice"
    assert torch.allclose(per["both"], (per["forward"] + per["backward"]).log_softmax(-1))
    assert model.input_embedding() is model.net.char_encoder and model.has_softmax


def test_fingerprint_follows_the_weights():
    model, other = make_tiny("gpt2"), make_tiny("gpt2", seed=1)
    assert model.fingerprint() == model.fingerprint() != other.fingerprint()
    assert len(model.fingerprint()) == 64


def test_a_folder_named_model_is_shown_by_its_card_title_or_its_parent(tmp_path):
    from explorer.paths import display_name

    folder = tmp_path / "minilm" / "model"
    folder.mkdir(parents=True)
    assert display_name(folder) == "minilm/model"
    (folder / "README.md").write_text("---\ntags: [x]\n---\n\n# all-MiniLM-L6-v2\n\ntext\n# Usage\n")
    assert display_name(folder) == "all-MiniLM-L6-v2"
    (folder / "README.md").write_text("# A sentence that is not a name\n")
    assert display_name(folder) == "minilm/model" and display_name(tmp_path / "minilm") == "minilm"
