"""Induction heads and the ICL score (Olsson et al. 2022) on constructed and random tiny models."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import make_tiny
from test_prompting import CopyNet, UnigramNet, fake

from explorer.analysis.induction import (analyse, heads_figure, heads_table, induction_scores, loss_figure,
                                         repeated_tokens, summary)
from explorer.errors import ExplorerError


def test_repeated_tokens_are_a_document_start_then_two_copies():
    model = make_tiny("gpt2")
    ids = repeated_tokens(model, 12, seed=3, n_seqs=5)
    assert ids.shape == (5, 1 + 24) and (ids[:, 0] == model.tokenizer.bos_token_id).all()
    assert (ids[:, 1:13] == ids[:, 13:]).all()
    assert not set(ids[:, 1:].flatten().tolist()) & set(model.tokenizer.all_special_ids)
    assert (repeated_tokens(model, 12, seed=3, n_seqs=5) == ids).all()
    assert not (repeated_tokens(model, 12, seed=4, n_seqs=5) == ids).all()


def test_an_induction_head_scores_one_and_a_previous_token_head_zero():
    """The constructed model's head 0 attends to the token after the earlier occurrence; head 1 to the previous one."""
    result = analyse(fake(CopyNet), seq_len=20, n_seqs=4)
    assert result.scores.shape == (1, 2)
    assert result.scores[0, 0] > 0.95 and result.scores[0, 1] == 0
    assert result.loss_second < 0.1 * result.loss_first and result.icl_score > 4  # repeats inside a copy cost a little
    table = summary([result])
    assert table.top_head[0] == "layer 1, head 1" and table.icl_score[0] == pytest.approx(result.icl_score)


class ContextFreeNet(UnigramNet):
    """The same next-token scores everywhere, attention spread evenly over the past."""

    def forward(self, input_ids, attention_mask=None, output_attentions=False, **_):
        width = input_ids.shape[1]
        causal = torch.tril(torch.ones(width, width))
        att = (causal / causal.sum(-1, keepdim=True)).expand(input_ids.shape[0], 1, width, width)
        return SimpleNamespace(logits=self.bias.expand(*input_ids.shape, -1), attentions=(att,))


def test_a_model_that_ignores_the_context_has_no_icl_score():
    result = analyse(fake(ContextFreeNet), seq_len=10)
    assert result.icl_score == pytest.approx(0, abs=1e-6)
    # second-copy token 11 + t attends evenly to the 12 + t tokens up to itself
    assert result.scores[0, 0] == pytest.approx(np.mean([1 / (12 + t) for t in range(10)]), rel=1e-5)
    with pytest.raises(ExplorerError, match="no attention maps"):
        analyse(fake(UnigramNet), seq_len=10)  # it returns no attentions


@pytest.mark.parametrize("family", ["gpt", "gpt2", "gpt3"])
def test_random_models(family):
    model = make_tiny(family)
    result = analyse(model, seq_len=20, seed=1, n_seqs=4)
    assert result.scores.shape == (model.n_layers, model.n_heads)
    assert (result.scores >= 0).all() and (result.scores <= 1).all()
    assert abs(result.icl_score) < 0.3  # an untrained model learns nothing from the repeat
    np.testing.assert_allclose(induction_scores(model, seq_len=20, seed=1, n_seqs=4), result.scores, atol=1e-6)
    assert np.isnan(result.loss).sum() == (0 if model.tokenizer.eos_token_id is not None else 1)
    if family == "gpt3":  # its local layers see 4 tokens back: never as far as the earlier copy
        local = [i for i, name in enumerate(result.layer_names) if "local" in name]
        assert local and (result.scores[local] == 0).all()


def test_figures_and_tables():
    results = [analyse(make_tiny(f), seq_len=16, n_seqs=2) for f in ("gpt2", "gpt3")]
    fig = loss_figure(results)
    assert len(fig.data) == 2 and all(len(tr.y) == 32 for tr in fig.data)
    heat = heads_figure(results[1])
    assert np.asarray(heat.data[0].z).shape == (2, 2) and list(heat.data[0].y) == results[1].layer_names
    long = heads_table(results[0])
    assert list(long.columns) == ["model", "layer", "head", "induction_score"] and len(long) == 4


def test_bad_requests():
    with pytest.raises(ExplorerError, match="cannot be prompted"):
        analyse(make_tiny("bert"))
    with pytest.raises(ExplorerError, match="no attention heads"):
        induction_scores(make_tiny("elmo"))
    with pytest.raises(ExplorerError, match="do not fit .* context of 64"):
        induction_scores(make_tiny("gpt2"), seq_len=40)
    assert induction_scores(make_tiny("bert"), seq_len=10).shape == (2, 2)  # attention only: any transformer
