"""Fast feature extraction: hidden states without the heads, token-budget batches, ELMo's char-CNN, devices."""
import numpy as np
import pytest
import torch
from conftest import make_tiny

from explorer.analysis.features import _batches, extract_features
from explorer.errors import ExplorerError
from explorer.families.base import pick_device
from explorer.families.elmo_network import char_ids

SENTENCES = [["The", "quiet", "garden", "opened", "."], ["A", "ship", "answered", "1999", "twice", "!", "so", "it",
             "went", "on", "and", "on"], ["x"], ["my", "strange", "window"], ["a", "letter", "😀", "the", "letter"]]


def test_hidden_states_alone_equal_the_full_eager_pass(any_family):
    """Without attentions or logits the trace runs the base network (sdpa where it can): same hidden states; without
    attentions the whole network runs with sdpa: same logits."""
    fast = any_family.trace_batch(SENTENCES, logits=False)
    full = any_family.trace_batch(SENTENCES, attentions=any_family.spec.attention, logits=True)
    no_maps = any_family.trace_batch(SENTENCES, logits=True)  # the whole network, sdpa where it can
    for a, b, c in zip(fast, full, no_maps):
        assert a.tokens == b.tokens and a.logits is None and b.logits is not None
        torch.testing.assert_close(a.hidden, b.hidden, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(c.logits, b.logits, atol=1e-4, rtol=1e-4)
    if any_family.spec.attention:  # back to eager attention afterwards, which gives the maps
        assert any_family.trace(words=SENTENCES[0]).attentions is not None


def test_elmo_char_cnn_of_a_batch_equals_each_word_alone():
    encoder = make_tiny("elmo").net.char_encoder
    chars, _ = char_ids(SENTENCES)
    alone = torch.stack([torch.cat([encoder(word[None, None])[0] for word in sentence]) for sentence in chars])
    torch.testing.assert_close(encoder(chars), alone, atol=1e-5, rtol=1e-5)


def test_batches_keep_within_the_token_budget_and_cover_every_sentence_once():
    lengths = [5, 30, 2, 9, 9, 1, 100]
    batches = list(_batches(lengths, max_tokens=20, batch_size=None))
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 20 for b in batches)
    assert [lengths[i] for b in batches for i in b] == sorted(lengths)
    assert max(len(b) for b in _batches(lengths, max_tokens=10_000, batch_size=3)) == 3


@pytest.mark.parametrize("family", ["elmo", "bert", "gpt2"])
@pytest.mark.parametrize("pool", ["first", "mean"])
def test_token_budget_cache_equals_the_sentence_by_sentence_cache(family, pool, tmp_path):
    """Rows in the same order and, to float16 rounding, the same values as tracing each sentence alone through
    the full model (the cache as it was built before batches by token budget)."""
    model = make_tiny(family)
    select = [[4, 0], list(range(12)), [0], [2, 1], [1, 2, 4]]
    expected = np.concatenate([torch.stack([model.trace(words=w).word_vectors(layer, pool)[sel]
                                            for layer in range(model.n_layers + 1)]).numpy().astype(np.float16)
                               for w, sel in zip(SENTENCES, select)], axis=1)
    for max_tokens in (1, 16, 4096):  # one sentence a batch, a few, all at once
        feats = extract_features(model, SENTENCES, pool=pool, select=select, max_tokens=max_tokens,
                                 cache_dir=tmp_path / str(max_tokens))
        assert feats.offsets.tolist() == [0, 2, 14, 15, 17, 20] and not feats.missing.any()
        np.testing.assert_allclose(np.asarray(feats.vectors, dtype=np.float32), expected.astype(np.float32),
                                   rtol=2e-3, atol=1e-3)


def test_a_device_this_machine_lacks_is_refused_before_any_work(tmp_path):
    model = make_tiny("gpt2")
    missing = next((d for d, here in (("cuda", torch.cuda.is_available()), ("mps", torch.backends.mps.is_available()))
                    if not here), None)
    if missing is None:
        pytest.skip("this machine has both cuda and mps")
    with pytest.raises(ExplorerError, match=f"device '{missing}' is not available on this machine"):
        extract_features(model, SENTENCES, device=missing, cache_dir=tmp_path)
    with pytest.raises(ExplorerError, match="unknown device 'tpu'"):
        pick_device("tpu")
    assert not list(tmp_path.iterdir())
    assert pick_device("cpu") == torch.device("cpu") and model.device == torch.device("cpu")
    feats = extract_features(model, SENTENCES, device="cpu", cache_dir=tmp_path)
    assert len(feats) == sum(len(w) for w in SENTENCES)
