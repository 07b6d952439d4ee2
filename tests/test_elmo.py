"""ELMo: characters in, three layers out, two directional LMs, and AllenNLP's hdf5 release layout."""
import json

import h5py
import numpy as np
import pytest
import torch
from safetensors import safe_open

import explorer
from explorer import ExplorerError
from explorer.families import elmo_network as elmo
from tests.conftest import make_tiny

SENTENCE = "The old teacher found 3.14 apples 😀 in 1999 ."


# -- characters --------------------------------------------------------------------------------

def test_word_characters_follow_allennlp_mapper():
    # begin-of-word 258, UTF-8 bytes, end-of-word 259, padding 260 -- all +1 so 0 is padding
    assert elmo.word_chars("ab")[:5] == [259, ord("a") + 1, ord("b") + 1, 260, 261]
    emoji = elmo.word_chars("😀")
    assert emoji[1:5] == [b + 1 for b in "😀".encode("utf-8")] and emoji[5] == 260
    assert elmo.word_chars("<S>")[:4] == [259, 257, 260, 261]
    assert elmo.word_chars("</S>")[:4] == [259, 258, 260, 261]
    long = elmo.word_chars("x" * 80)
    assert len(long) == 50 and long[1:49] == [ord("x") + 1] * 48 and long[49] == 260  # cut to 48 bytes


def test_char_ids_wrap_sentences_and_pad():
    chars, mask = elmo.char_ids([["a", "dog"], ["hi"]])
    assert chars.shape == (2, 4, 50)
    assert mask.tolist() == [[True] * 4, [True, True, True, False]]
    assert chars[1, 3].abs().sum() == 0
    assert chars[0, 0].tolist() == elmo.word_chars("<S>") and chars[0, 3].tolist() == elmo.word_chars("</S>")


def test_word_ids_align_with_char_ids():
    model = make_tiny("elmo")
    tok = model.tokenizer
    ids = elmo.word_ids(tok, [["the", "dog"], ["zzzunseen"]])
    assert ids[0].tolist() == tok.convert_tokens_to_ids(["<S>", "the", "dog", "</S>"])
    assert ids[1].tolist() == [tok.bos_token_id, tok.unk_token_id, tok.eos_token_id, tok.pad_token_id]


# -- the Trace ---------------------------------------------------------------------------------

def test_trace_shapes_and_duplicated_token_layer():
    model = make_tiny("elmo")
    tr = model.trace(SENTENCE)
    words = ["The", "old", "teacher", "found", "3.14", "apples", "😀", "in", "1999", "."]
    assert tr.tokens == tr.words == words and tr.word_ids == list(range(len(words)))
    assert tr.attentions is None and tr.n_layers == 2 and model.n_heads == 0
    assert tr.hidden.shape == (3, len(words), 2 * model.d_model)
    left, right = tr.hidden[0].chunk(2, dim=-1)
    assert torch.equal(left, right)
    assert not torch.equal(*tr.hidden[1].chunk(2, dim=-1))
    assert tr.logits.shape == (2, len(words), model.vocab_size)
    assert tr.input_ids.tolist() == model.tokenizer.convert_tokens_to_ids(words)
    assert model.trace(SENTENCE, logits=False).logits is None


def test_gold_words_with_emoji_and_numbers_each_get_a_vector():
    tr = make_tiny("elmo").trace(words=["x²", "😀😀", "12,000", "naïve"])
    assert tr.tokens == ["x²", "😀😀", "12,000", "naïve"]
    vectors = tr.word_vectors(2)
    assert vectors.shape[0] == 4 and torch.isfinite(vectors).all()
    assert not torch.allclose(vectors[1], vectors[2])


def test_padding_never_reaches_real_positions():
    model = make_tiny("elmo")
    texts = ["a dog .", "The strange teacher answered twice and then the old child opened a window .", "why ?"]
    batch = model.trace_batch(texts, batch_size=3, logits=True)
    for text, tr in zip(texts, batch):
        alone = model.trace(text)
        assert torch.allclose(tr.hidden, alone.hidden, atol=1e-5)
        assert torch.allclose(tr.logits, alone.logits, atol=1e-5)


def test_forward_lm_sees_only_the_left_and_backward_only_the_right():
    model = make_tiny("elmo")
    a = model.trace(words=["the", "old", "dog", "barked", "at", "a", "ship"])
    b = model.trace(words=["the", "old", "dog", "painted", "at", "a", "ship"])
    d = model.d_model
    changed = 3
    for layer in (1, 2):
        assert torch.allclose(a.hidden[layer, :changed, :d], b.hidden[layer, :changed, :d])
        assert not torch.allclose(a.hidden[layer, changed:, :d], b.hidden[layer, changed:, :d])
        assert torch.allclose(a.hidden[layer, changed + 1:, d:], b.hidden[layer, changed + 1:, d:])
        assert not torch.allclose(a.hidden[layer, :changed + 1, d:], b.hidden[layer, :changed + 1, d:])
    assert torch.allclose(a.logits[0, :changed], b.logits[0, :changed])
    assert not torch.allclose(a.logits[0, changed], b.logits[0, changed])
    assert torch.allclose(a.logits[1, changed + 1:], b.logits[1, changed + 1:])
    assert not torch.allclose(a.logits[1, changed], b.logits[1, changed])


def test_save_load_gives_identical_trace(tmp_path):
    model = make_tiny("elmo")
    model.save(tmp_path / "m", card={"corpus": "test"})
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["family"] == "elmo" and config["cell"] == 64 and config["d_model"] == 32
    with safe_open(str(tmp_path / "m" / "model.safetensors"), "pt") as f:
        assert f.get_tensor("softmax.weight").dtype == torch.float16
    before = model.trace(SENTENCE)
    loaded = explorer.load(str(tmp_path / "m"))
    after = loaded.trace(SENTENCE)
    assert loaded.family == "elmo" and loaded.card == {"corpus": "test"}
    assert next(loaded.net.parameters()).dtype == torch.float32
    assert after.tokens == before.tokens and torch.equal(after.input_ids, before.input_ids)
    assert torch.equal(after.hidden, before.hidden) and torch.equal(after.logits, before.logits)


def test_bilm_trains_on_its_own_logits():
    """The interface the training loop uses: forward/backward logits against word_ids, shifted."""
    torch.manual_seed(0)
    model = make_tiny("elmo")
    net = elmo.ElmoNet(model.vocab_size, 16, 32, 2, filters=((1, 8), (2, 8)), n_highway=1, dropout=0.0)
    words = [["the", "old", "dog", "barked", "."], ["a", "ship", "!"]]
    chars, mask = elmo.char_ids(words)
    ids = elmo.word_ids(model.tokenizer, words)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)

    def loss():
        out = net(chars, mask)
        fwd = torch.nn.functional.cross_entropy(out["forward_logits"][:, :-1][mask[:, 1:]], ids[:, 1:][mask[:, 1:]])
        bwd = torch.nn.functional.cross_entropy(out["backward_logits"][:, 1:][mask[:, 1:]], ids[:, :-1][mask[:, 1:]])
        return (fwd + bwd) / 2

    first = loss()
    for _ in range(30):
        opt.zero_grad()
        value = loss()
        value.backward()
        opt.step()
    assert loss().item() < first.item() / 3
    assert net.token_embedding(chars).shape == (2, chars.shape[1], 16)


def test_clipping_path_matches_packed_lstm_when_clips_never_bite():
    torch.manual_seed(0)
    packed = elmo.ElmoNet(10, 8, 12, 2, filters=((1, 4), (2, 4)), n_highway=1, dropout=0.0).eval()
    stepwise = elmo.ElmoNet(10, 8, 12, 2, filters=((1, 4), (2, 4)), n_highway=1, dropout=0.0,
                         cell_clip=1e9, proj_clip=1e9).eval()
    stepwise.load_state_dict(packed.state_dict())
    chars, mask = elmo.char_ids([["one", "two", "three"], ["four"]])
    a, b = packed(chars, mask), stepwise(chars, mask)
    assert torch.allclose(a["hidden"], b["hidden"], atol=1e-5)
    assert torch.allclose(a["backward_logits"], b["backward_logits"], atol=1e-5)


# -- AllenNLP's options.json + weights.hdf5 ----------------------------------------------------

OPTIONS = {
    "lstm": {"use_skip_connections": True, "projection_dim": 6, "cell_clip": 0.8, "proj_clip": 0.3,
             "dim": 10, "n_layers": 2},
    "char_cnn": {"activation": "tanh", "filters": [[1, 4], [2, 6], [3, 5]], "n_highway": 2,
                 "embedding": {"dim": 4}, "n_characters": 262, "max_characters_per_token": 50},
}


def _allennlp_arrays(seed=0) -> dict:
    """Random weights in the exact dataset layout of AllenNLP's ELMo weights.hdf5 (TF shapes)."""
    rng = np.random.default_rng(seed)
    cnn, lstm = OPTIONS["char_cnn"], OPTIONS["lstm"]
    c, d, cell = cnn["embedding"]["dim"], lstm["projection_dim"], lstm["dim"]
    width = sum(n for _, n in cnn["filters"])

    def r(*shape):
        return rng.normal(0, 0.5, shape).astype("float32")

    arrays = {"char_embed": r(261, c), "CNN_proj/W_proj": r(width, d), "CNN_proj/b_proj": r(d)}
    for i, (w, n) in enumerate(cnn["filters"]):
        arrays[f"CNN/W_cnn_{i}"], arrays[f"CNN/b_cnn_{i}"] = r(1, w, c, n), r(n)
    for k in range(cnn["n_highway"]):
        for part in ("carry", "transform"):
            arrays[f"CNN_high_{k}/W_{part}"], arrays[f"CNN_high_{k}/b_{part}"] = r(width, width), r(width)
    for direction in (0, 1):
        for layer in range(lstm["n_layers"]):
            p = f"RNN_{direction}/RNN/MultiRNNCell/Cell{layer}/LSTMCell"
            arrays[f"{p}/W_0"], arrays[f"{p}/B"], arrays[f"{p}/W_P_0"] = r(2 * d, 4 * cell), r(4 * cell), r(cell, d)
    return arrays


def _write_release(folder, arrays):
    folder.mkdir()
    (folder / "options.json").write_text(json.dumps(OPTIONS))
    with h5py.File(folder / "weights.hdf5", "w") as f:
        for name, array in arrays.items():
            f.create_dataset(name, data=array)
    return folder


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    arrays = _allennlp_arrays()
    return _write_release(tmp_path_factory.mktemp("elmo") / "elmo-release", arrays), arrays


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _token_layer_by_hand(a, word):
    """Char CNN (tanh, valid convolution, max over time), TF highways, projection -- in numpy."""
    codes = [258] + (list(word.encode()) if word not in ("<S>", "</S>") else [256 if word == "<S>" else 257])
    codes = [x + 1 for x in codes + [259] + [260] * (50 - len(codes) - 1)]
    table = np.vstack([np.zeros((1, a["char_embed"].shape[1])), a["char_embed"]])
    e = table[codes]  # [50, c]
    pooled = []
    for i, (w, _) in enumerate(OPTIONS["char_cnn"]["filters"]):
        kernel = a[f"CNN/W_cnn_{i}"][0]  # [w, c, n]
        conv = np.stack([np.einsum("wc,wcn->n", e[t:t + w], kernel) for t in range(50 - w + 1)])
        pooled.append(np.tanh(conv.max(0) + a[f"CNN/b_cnn_{i}"]))
    x = np.concatenate(pooled)
    for k in range(OPTIONS["char_cnn"]["n_highway"]):
        carry = _sigmoid(x @ a[f"CNN_high_{k}/W_carry"] + a[f"CNN_high_{k}/b_carry"])
        x = carry * np.maximum(x @ a[f"CNN_high_{k}/W_transform"] + a[f"CNN_high_{k}/b_transform"], 0) + (1 - carry) * x
    return x @ a["CNN_proj/W_proj"] + a["CNN_proj/b_proj"]


def _tf_lstm_by_hand(a, prefix, xs, clipped):
    """TF's LSTMCell with projection: gates i, j, f, o; forget bias +1; cell and projection clipping."""
    lstm = OPTIONS["lstm"]
    h, c = np.zeros(lstm["projection_dim"]), np.zeros(lstm["dim"])
    out = []
    for x in xs:
        i, j, f, o = np.split(np.concatenate([x, h]) @ a[f"{prefix}/W_0"] + a[f"{prefix}/B"], 4)
        c = np.clip(_sigmoid(f + 1.0) * c + _sigmoid(i) * np.tanh(j), -lstm["cell_clip"], lstm["cell_clip"])
        h = (_sigmoid(o) * np.tanh(c)) @ a[f"{prefix}/W_P_0"]
        clipped.append(np.abs(h).max() >= lstm["proj_clip"])
        h = np.clip(h, -lstm["proj_clip"], lstm["proj_clip"])
        out.append(h)
    return np.stack(out)


def test_allennlp_release_matches_a_hand_computation(release):
    folder, a = release
    model = explorer.load(str(folder))
    words = ["Tiny", "ELMo", "reads", "😀", "42"]
    tr = model.trace(words=words)
    assert model.family == "elmo" and tr.logits is None and tr.tokens == words
    d = OPTIONS["lstm"]["projection_dim"]
    assert tr.hidden.shape == (3, len(words), 2 * d)

    seq = np.stack([_token_layer_by_hand(a, w) for w in ["<S>", *words, "</S>"]])
    np.testing.assert_allclose(tr.hidden[0, :, :d].numpy(), seq[1:-1], atol=1e-4)

    clipped = []
    layers = {}
    for direction, order in ((0, slice(None)), (1, slice(None, None, -1))):
        x = seq[order]
        for layer in range(2):
            h = _tf_lstm_by_hand(a, f"RNN_{direction}/RNN/MultiRNNCell/Cell{layer}/LSTMCell", x, clipped)
            x = h + x if layer > 0 else h  # residual from the second layer on
            layers[direction, layer] = x[order][1:-1]
    assert any(clipped), "the projection clip should bite in this test"
    for layer in range(2):
        np.testing.assert_allclose(tr.hidden[layer + 1, :, :d].numpy(), layers[0, layer], atol=1e-4)
        np.testing.assert_allclose(tr.hidden[layer + 1, :, d:].numpy(), layers[1, layer], atol=1e-4)


def test_allennlp_release_pads_without_leaking(release):
    model = explorer.load(str(release[0]))
    texts = ["a b c d e f", "g h"]
    batch = model.trace_batch(texts, batch_size=2)
    for text, tr in zip(texts, batch):
        assert torch.allclose(tr.hidden, model.trace(text).hidden, atol=1e-5)


def test_hdf5_missing_a_dataset_names_it(tmp_path):
    arrays = _allennlp_arrays()
    del arrays["RNN_1/RNN/MultiRNNCell/Cell1/LSTMCell/W_P_0"]
    folder = _write_release(tmp_path / "broken", arrays)
    with pytest.raises(ExplorerError) as e:
        explorer.load(str(folder))
    assert "RNN_1/RNN/MultiRNNCell/Cell1/LSTMCell/W_P_0" in str(e.value) and "weights.hdf5" in str(e.value)


def test_hdf5_with_wrong_shapes_or_garbage_is_refused(tmp_path):
    arrays = _allennlp_arrays()
    arrays["CNN_proj/W_proj"] = arrays["CNN_proj/W_proj"][:, :5]
    with pytest.raises(ExplorerError, match="CNN_proj/W_proj.*shape"):
        explorer.load(str(_write_release(tmp_path / "shape", arrays)))
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "options.json").write_text(json.dumps(OPTIONS))
    (garbage / "weights.hdf5").write_bytes(b"not an hdf5 file" * 10)
    with pytest.raises(ExplorerError, match="not a readable hdf5"):
        explorer.load(str(garbage))
    (garbage / "weights.hdf5").unlink()
    with pytest.raises(ExplorerError, match="weights.hdf5 does not exist"):
        explorer.load(str(garbage))
