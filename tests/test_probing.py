"""The probing lab: cached features, POS probes with controls and scalar mix, WSD, WiC, geometry, the CLI."""
import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import make_tiny, shared_data

import explorer
from explorer import features as feature_cache
from explorer.features import EmptyWordWarning, extract_features
from explorer.analysis.geometry import (geometry_figure, layer_geometry, sense_points, separation, separation_figure,
                                       tag_points)
from explorer.analysis.probing import (COLUMNS, ProbeSettings, bootstrap_interval, conditional_information,
                                       control_tags, dev_split, fit_probe, label_ids, layer_figure, layer_table,
                                       majority_accuracy, mix_weights_figure, online_codelength, pos_probe, save_run,
                                       selection_rows, selectivity_figure, summary, table, tied_best, word_ids,
                                       word_type_accuracy)
from explorer.analysis.probing import fit_layer_probes
from explorer.analysis.wsd import (best_threshold, framework_scores, most_frequent_senses, wic_probe, wsd_probe)
from explorer.cli import main
from explorer.data.conllu import DEMO_POS_TEST, DEMO_POS_TRAIN, TaggedSentence, read_conllu, read_pos_file
from explorer.data.wic import pairs_from_senses
from explorer.data.senses import (DEMO_SENSES_TEST, DEMO_SENSES_TRAIN, SenseInstance, SenseSentence, read_sense_file,
                               read_wsd_xml, wordnet_first_senses)
from explorer.errors import ExplorerError

FAST = ProbeSettings(mix_max_rows=3000)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Probes on small data are latency-bound: on a shared 2-core machine a second intra-op thread
    mostly waits, and can make each step several times slower. Restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("features")


@pytest.fixture(scope="module")
def minilm(minilm_path):
    return explorer.load(str(minilm_path))


@pytest.fixture(scope="module")
def demo_pos():
    return read_pos_file(DEMO_POS_TRAIN), read_pos_file(DEMO_POS_TEST)


def metric(df, name, layer=None):
    rows = df[df.metric == name]
    return rows if layer is None else rows[rows.layer == layer].value.iloc[0]


# -- features ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("family", ["elmo", "gpt", "bert", "gpt2", "gpt3"])
def test_features_equal_the_trace_word_vectors_at_every_layer(family, tmp_path):
    model = make_tiny(family)
    sentences = [["The", "quiet", "garden", "opened", "."], ["A", "ship", "answered", "1999", "twice", "!"]]
    for pool in ("first", "mean"):
        feats = extract_features(model, sentences, pool=pool, cache_dir=tmp_path)
        assert feats.vectors.dtype == np.float16 and feats.n_layers == model.n_layers + 1
        for i, words in enumerate(sentences):
            trace = model.trace(words=words)
            for layer in range(feats.n_layers):
                got = feats.layer(layer)[feats.offsets[i]:feats.offsets[i + 1]]
                torch.testing.assert_close(got, trace.word_vectors(layer, pool), atol=2e-2, rtol=2e-3)


def test_second_extraction_reads_the_cache_and_keys_differ_by_pool_and_data(tmp_path, monkeypatch):
    model = make_tiny("gpt2")
    sentences = [["the", "dog", "barked"], ["a", "letter"]]
    first = extract_features(model, sentences, cache_dir=tmp_path)
    monkeypatch.setattr(model, "trace_batch", lambda *a, **k: pytest.fail("the cache was not used"))
    again = extract_features(model, sentences, cache_dir=tmp_path)
    assert again.directory == first.directory and np.array_equal(again.vectors, first.vectors)
    monkeypatch.undo()
    assert extract_features(model, sentences, pool="mean", cache_dir=tmp_path).directory != first.directory
    assert extract_features(model, sentences[:1], cache_dir=tmp_path).directory != first.directory
    assert not list(tmp_path.rglob(".partial-*"))  # no half-written cache left behind


def test_selected_words_truncation_and_words_without_tokens(tmp_path):
    model = make_tiny("bert")  # context of 64 tokens
    long = ["word"] * 100
    feats = extract_features(model, [long, ["a", "\u200b", "b"]], select=[[1, 90], [2, 0, 1]], cache_dir=tmp_path)
    assert feats.offsets.tolist() == [0, 2, 5]
    assert feats.missing.tolist() == [False, True, False, False, True]  # cut off; zero-width space has no token
    torch.testing.assert_close(feats.layer(1)[3], model.trace(words=["a", "b"]).word_vectors(1)[0],
                               atol=2e-2, rtol=2e-3)
    with pytest.warns(EmptyWordWarning, match="maps .* to no tokens"):
        extract_features(model, [["x", "\u200b"], ["y", "\u200b", "z"]], cache_dir=tmp_path)
    with pytest.raises(ExplorerError, match="selected word 7 does not exist"):
        extract_features(model, [["a", "b"]], select=[[7]], cache_dir=tmp_path)
    with pytest.raises(ExplorerError, match="unknown pooling"):
        extract_features(model, [["a"]], pool="max", cache_dir=tmp_path)


def test_default_cache_lives_outside_the_repository():
    assert explorer.zoo.ROOT not in feature_cache.CACHE_DIR.parents


# -- probe pieces ----------------------------------------------------------------------------------

def test_control_task_gives_each_word_type_one_tag_from_the_tag_distribution():
    rng = np.random.default_rng(1)
    words = [f"w{rng.integers(300)}" for _ in range(6000)]
    tags = ["NOUN" if w.endswith(("1", "2", "3")) else "VERB" if w.endswith("4") else "DET" for w in words]
    c_train, c_test = control_tags(words, tags, words[:50] + ["unseen"], seed=3)
    assert c_train[:50] == c_test[:50]
    assert len({(w, t) for w, t in zip(words, c_train)}) == len(set(words))  # one tag per type
    assert set(c_train) <= set(tags) and c_test[-1] in set(tags)
    assert control_tags(words, tags, [], seed=3)[0] == c_train and control_tags(words, tags, [], seed=4)[0] != c_train


def test_baselines_on_a_hand_made_example():
    train_words, train_tags = ["book", "book", "book", "a", "a"], ["NOUN", "NOUN", "VERB", "DET", "DET"]
    test_words, test_tags = ["book", "a", "new"], ["VERB", "DET", "ADJ"]
    assert word_type_accuracy(train_words, train_tags, test_words, test_tags) == pytest.approx(1 / 3)
    assert majority_accuracy(train_tags, test_tags) == 0  # NOUN and DET tie; NOUN was seen first


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_linear_probe_learns_a_separable_problem_and_matches_scikit_learn(optimizer):
    from sklearn.linear_model import LogisticRegression

    gen = torch.Generator().manual_seed(0)
    centres = torch.randn(5, 16, generator=gen) * 3
    y = torch.randint(5, (3000,), generator=gen)
    x = centres[y] + torch.randn(3000, 16, generator=gen) * 2 + 50  # offset: the probe standardises
    probe = fit_probe(x[:2000], [y[:2000]], [5], ProbeSettings(optimizer=optimizer))
    ours = float((probe.predict(x[2000:])[0] == y[2000:]).float().mean())
    reference = LogisticRegression(max_iter=2000).fit(x[:2000].numpy(), y[:2000].numpy()).score(
        x[2000:].numpy(), y[2000:].numpy())
    assert ours > 0.8 and abs(ours - reference) < 0.02


def test_layers_trained_together_score_as_each_layer_trained_alone(demo_pos, cache):
    model = make_tiny("gpt2")
    settings = ProbeSettings(optimizer="adam", mix=False, bootstrap=0, l2_grid=(1e-4, 1e-1))
    together = pos_probe(model, *demo_pos, settings=settings, cache_dir=cache)
    alone = pos_probe(model, *demo_pos, settings=replace(settings, stack_max_values=1), cache_dir=cache)  # one a fit
    pd.testing.assert_frame_equal(together, alone)
    full_batch = pos_probe(model, *demo_pos, settings=replace(settings, optimizer="lbfgs"), cache_dir=cache)
    assert set(together.metric) == set(full_batch.metric)  # the same table either way
    assert list(metric(together, "l2").layer) == list(metric(full_batch, "l2").layer)
    gap = metric(together, "accuracy").value.to_numpy() - metric(full_batch, "accuracy").value.to_numpy()
    assert abs(gap).max() < 0.02  # Adam stopped on dev and L-BFGS reach about the same probe


def test_layer_probes_stop_early_once_dev_loss_levels_off():
    gen = torch.Generator().manual_seed(0)
    y = torch.randint(4, (12000,), generator=gen)
    noisy = torch.where(torch.rand(12000, generator=gen) < 0.1, torch.randint(4, (12000,), generator=gen), y)
    easy, hard = torch.randn(4, 8, generator=gen) * 4, torch.randn(4, 8, generator=gen) * 0.5
    z = torch.stack([easy[y] + torch.randn(12000, 8, generator=gen), hard[y] + torch.randn(12000, 8, generator=gen)], 1)
    z = ((z - z[:10000].mean(0)) / z[:10000].std(0)).half()
    settings = ProbeSettings(batch_size=250, epochs=20)  # 40 steps an epoch, a look at dev every 20
    train, dev = (slice(0, 10000), [noisy[:10000]]), (z[10000:], noisy[10000:])
    both = fit_layer_probes(z[train[0]], train[1], [4], settings, dev)
    assert both.epochs_run < 20  # levelled off long before the cap
    acc = (both.predict(z[10000:])[0][:, :, 0] == y[10000:, None]).float().mean(0)
    assert acc[0] > 0.95 and acc[1] < acc[0]
    first = fit_layer_probes(z[train[0], :1], train[1], [4], settings, (z[10000:, :1], noisy[10000:]))
    assert torch.equal(first.predict(z[10000:, :1])[0][:, 0], both.predict(z[10000:])[0][:, 0])
    assert first.epochs_run <= both.epochs_run


def test_label_checks_name_the_problem():
    with pytest.raises(ExplorerError, match="single tag \\(NOUN\\)"):
        label_ids(["NOUN", "NOUN"], ["NOUN"])
    classes, _, test = label_ids(["NOUN", "VERB"], ["INTJ", "NOUN", "INTJ"])  # unseen: a label nothing predicts
    assert classes == ["NOUN", "VERB"] and test.tolist() == [-1, 0, -1]


# -- measures: dev choice, intervals, codelength, conditional information ---------------------------

def test_online_codelength_compresses_learnable_labels_and_not_random_ones():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 1, generator=gen)
    learnable = online_codelength(x, (x[:, 0] > 0).long(), 2, ProbeSettings())
    assert learnable["uniform_codelength_bits"] == pytest.approx(2000)  # 1 bit a label for 2 classes
    assert learnable["compression"] > 5
    noise = online_codelength(x, torch.randint(2, (2000,), generator=gen), 2, ProbeSettings())
    assert 0.9 < noise["compression"] < 1.05  # nothing to learn: the online code is no shorter than uniform


def test_conditional_information_is_zero_for_the_baseline_itself_and_positive_for_new_information():
    gen = torch.Generator().manual_seed(0)
    base, x = torch.randn(2000, 4, generator=gen), torch.randn(2000, 1, generator=gen)
    y = (x[:, 0] > 0).long()  # the baseline knows nothing of y, x everything
    tr, te = slice(0, 1500), slice(1500, None)
    same = conditional_information((base[tr], base[te]), (base[tr], base[te]), (y[tr], y[te]), 2, ProbeSettings())
    assert abs(same["information_bits"]) < 0.01 and same["baseline_bits"] == pytest.approx(1, abs=0.05)
    new = conditional_information((base[tr], base[te]), (x[tr], x[te]), (y[tr], y[te]), 2, ProbeSettings())
    assert new["information_bits"] > 0.7


def test_word_type_baseline_of_conditional_probing_knows_what_the_word_says():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in rng.integers(40, size=2000)]
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 1, generator=gen)
    by_word = torch.tensor([int(w[1:]) % 2 for w in words])  # the label is the word's: x adds nothing
    by_x = (x[:, 0] > 0).long()  # the label is x's: the word type adds nothing
    assert [i.tolist() for i in word_ids(["a", "a", "b"], ["b", "c", "a"])] == [[0, 0, 1], [1, 1, 0]]  # b: once
    ids_train, ids_test = word_ids(words[:1500], words[1500:])
    assert ids_test.max() <= 40 and len(set(ids_train.tolist())) == len(set(words[:1500]))
    tr, te = slice(0, 1500), slice(1500, None)
    ids, xs = (ids_train, ids_test), (x[tr], x[te])
    nothing = conditional_information(ids, xs, (by_word[tr], by_word[te]), 2, ProbeSettings())
    something = conditional_information(ids, xs, (by_x[tr], by_x[te]), 2, ProbeSettings())
    assert abs(nothing["information_bits"]) < 0.05 and something["information_bits"] > 0.7


def test_best_layer_is_chosen_on_dev_not_test_and_ties_are_all_reported():
    rows = [(0, "dev_accuracy", 0.90), (1, "dev_accuracy", 0.80), (2, "dev_accuracy", 0.90),
            (0, "accuracy", 0.70), (1, "accuracy", 0.95), (2, "accuracy", 0.80),  # test would pick layer 1
            (0, "selectivity", 0.1), (1, "selectivity", 0.2), (2, "selectivity", 0.3)]
    chosen = selection_rows(rows, word_type=0.75)
    assert [l for l, m, _ in chosen if m == "best_layer"] == [0, 2]  # dev's choice, both tied layers
    assert {l: v for l, m, v in chosen if m == "best_layer_selectivity"} == {0: 0.1, 2: 0.3}
    assert {l: v for l, m, v in chosen if m == "below_word_type"} == {0: 1.0, 1: 0.0, 2: 0.0}
    assert tied_best({0: 0.90, 1: 0.897, 2: 0.80}, tolerance=0.005) == [0, 1]
    assert tied_best({0: 0.90, 1: 0.897}) == [0]
    df = table([dict(model="m", layer=l, task="pos", metric=m, value=v, n=10) for l, m, v in rows + chosen]
               + [dict(model="m", layer=None, task="pos", metric="word_type_baseline", value=0.75, n=10)])
    [s] = summary(df)
    assert s["best_layers"] == [0, 2] and s["test_accuracy"] == {0: 0.70, 2: 0.80} and s["below_word_type"] == [0]
    flags = layer_table(df).set_index("layer").flag
    assert flags[0] == "best (dev); below word type" and flags[1] == "" and flags[2] == "best (dev)"


def test_dev_split_holds_out_whole_training_sentences_and_keeps_every_tag_in_training(demo_pos, cache):
    from explorer.analysis.probing import tagged_data

    data = tagged_data(make_tiny("gpt2"), demo_pos[0], "upos", "first", cache)
    train, dev = dev_split(data, 0.1, seed=0)
    assert set(train.sentences()).isdisjoint(dev.sentences())
    assert len(train.tags) + len(dev.tags) == len(data.tags) and set(train.tags) == set(data.tags)
    assert 0.05 < len(set(dev.sentences())) / len(set(data.sentences())) < 0.11
    assert np.array_equal(dev_split(data, 0.1, seed=0)[1].rows, dev.rows)


def test_bootstrap_interval_resamples_sentences_and_covers_the_accuracy():
    rng = np.random.default_rng(0)
    correct, groups = rng.random(2000) < 0.8, np.arange(2000) // 20
    low, high = bootstrap_interval(correct, groups, seed=0)
    assert low < correct.mean() < high and 0.02 < high - low < 0.08
    assert bootstrap_interval(correct, groups, seed=0) == (low, high)
    # whole sentences right or wrong: far fewer independent draws, so a much wider interval
    clustered = np.repeat(rng.random(100) < 0.8, 20)
    c_low, c_high = bootstrap_interval(clustered, groups, seed=0)
    assert c_high - c_low > 2 * (high - low)


def test_pos_probe_reports_dev_choice_intervals_codelength_and_conditional_bits(demo_pos, cache):
    model = make_tiny("gpt2")
    settings = ProbeSettings(mix=False, codelength=True, conditional="layer0", l2_grid=(1e-4, 1e-1), bootstrap=200)
    df = pos_probe(model, *demo_pos, settings=settings, cache_dir=cache)
    layers = list(range(model.n_layers + 1))
    for name in ("dev_accuracy", "accuracy_ci_low", "accuracy_ci_high", "below_word_type", "compression",
                 "codelength_bits", "conditional_bits", "l2"):
        assert list(metric(df, name).layer) == layers, name
    acc, low, high = (metric(df, m).set_index("layer").value for m in ("accuracy", "accuracy_ci_low",
                                                                        "accuracy_ci_high"))
    assert (low <= acc).all() and (acc <= high).all()
    dev = metric(df, "dev_accuracy").set_index("layer").value
    assert set(metric(df, "best_layer").layer) == set(dev[dev == dev.max()].index)
    assert abs(metric(df, "conditional_bits", 0)) < 0.02  # layer 0 adds nothing to itself
    assert metric(df, "uniform_codelength_bits").value.iloc[0] > metric(df, "codelength_bits").value.min()
    assert not (df.metric == "best_control_layer").any() and set(metric(df, "l2").value) <= {1e-4, 1e-1}


def test_pos_probe_uses_a_given_dev_set_to_choose(demo_pos, cache):
    train, test = demo_pos
    df = pos_probe(make_tiny("gpt"), train, test, dev=test[:20], settings=ProbeSettings(mix=False, bootstrap=0),
                   cache_dir=cache)
    assert metric(df, "dev_accuracy").value.between(0, 1).all() and not (df.metric == "accuracy_ci_low").any()


def test_random_copy_keeps_architecture_and_tokenizer_with_new_weights():
    from explorer.zoo import random_copy

    model = make_tiny("bert")
    fresh = random_copy(model, seed=1)
    assert fresh.n_layers == model.n_layers and fresh.tokenizer is model.tokenizer and "random" in fresh.name
    assert fresh.fingerprint() != model.fingerprint() and fresh.fingerprint() == random_copy(model, 1).fingerprint()
    shape = model.trace(words=["a", "b"]).word_vectors(1).shape
    assert fresh.trace(words=["a", "b"]).word_vectors(1).shape == shape


def test_layer_figure_names_every_line_and_lines_up_models_of_different_depth():
    rows = [dict(model=m, task="pos", layer=l, metric="accuracy", value=0.5 + l / 10, n=1)
            for m, depth in (("deep", 6), ("shallow", 2)) for l in range(depth + 1)]
    rows += [dict(model=m, task="pos", layer=l, metric=f"accuracy_ci_{b}", value=0.5 + l / 10 + d, n=1)
             for m, depth in (("deep", 6), ("shallow", 2)) for l in range(depth + 1) for b, d in (("low", -.01),
                                                                                                  ("high", .01))]
    rows += [dict(model="deep", task="pos", layer=None, metric="word_type_baseline", value=0.6, n=1)]
    df = table(rows)
    fig = layer_figure(df, "pos", "accuracy")
    assert [t.name for t in fig.data] == ["deep", "shallow", "word type baseline (0.600)"]
    assert fig.layout.xaxis.dtick == 1 and fig.data[0].error_y.array is not None
    relative = layer_figure(df, "pos", "accuracy", relative=True)
    assert max(relative.data[0].x) == max(relative.data[1].x) == 1
    assert "relative depth" in relative.layout.xaxis.title.text


# -- POS on real models ----------------------------------------------------------------------------

def test_minilm_pos_on_the_demo_set_beats_the_word_type_baseline_and_is_selective(minilm, demo_pos, cache):
    df = pos_probe(minilm, *demo_pos, settings=FAST, cache_dir=cache)
    assert list(df.columns) == COLUMNS and set(df.task) == {"pos/upos"}
    acc = metric(df, "accuracy").set_index("layer").value
    assert list(acc.index) == list(range(7))
    word_type = metric(df, "word_type_baseline").value.iloc[0]
    assert acc.max() > word_type + 0.1 and acc.max() > 0.93
    assert acc.idxmax() not in (0, 6)  # syntax peaks in the middle, not at the embeddings or the top
    selectivity = metric(df, "selectivity").set_index("layer").value
    assert selectivity.max() > 0.2 and selectivity[0] < selectivity.max()
    weights = metric(df, "mix_weight").value
    assert weights.sum() == pytest.approx(1, abs=1e-5) and metric(df, "mix_accuracy").value.iloc[0] > word_type


def test_minilm_pos_on_an_ewt_slice_beats_the_word_type_baseline(minilm, cache):
    train = read_conllu(shared_data("ud_english_ewt", "en_ewt-ud-train.conllu"), limit=200)
    test = read_conllu(shared_data("ud_english_ewt", "en_ewt-ud-test.conllu"), limit=60)
    for tagset in ("upos", "xpos"):
        seen = {t for s in train for t in s.tags(tagset)}
        scorable = [s for s in test if set(s.tags(tagset)) <= seen]  # a slice this small lacks some rare tags
        df = pos_probe(minilm, train, scorable, tagset=tagset, settings=ProbeSettings(mix=False), cache_dir=cache)
        best, word_type = metric(df, "accuracy").value.max(), metric(df, "word_type_baseline").value.iloc[0]
        assert best > word_type + 0.05 and best > 0.85


def test_probes_report_each_stage_and_stop_when_told(demo_pos, cache):
    model, steps = make_tiny("gpt2"), []
    pos_probe(model, *demo_pos, settings=FAST, cache_dir=cache, on_step=lambda *s: steps.append(s))
    total = model.n_layers + 3  # word vectors, layers 0..L, the scalar mix, then done
    assert [d for d, _, _ in steps] == list(range(total + 1)) and {t for _, t, _ in steps} == {total}
    assert steps[1][2] == "probes on layer 0 of 2" and steps[-1][2] == "done"

    class Stopped(BaseException):  # as Streamlit's StopException
        pass

    def stop_at_layer_1(done, total, what):
        if "layer 1" in what:
            raise Stopped

    with pytest.raises(Stopped):
        pos_probe(model, *demo_pos, settings=FAST, cache_dir=cache, on_step=stop_at_layer_1)


def test_mlp_probe_is_less_selective_than_the_linear_probe(minilm, demo_pos, cache):
    df = pos_probe(minilm, *demo_pos, settings=ProbeSettings(mlp_hidden=128, mix=False), cache_dir=cache)
    linear, mlp = metric(df, "selectivity").value.mean(), metric(df, "mlp_selectivity").value.mean()
    assert metric(df, "mlp_control_accuracy").value.mean() > metric(df, "control_accuracy").value.mean()
    assert mlp < linear


def test_pos_probe_rejects_missing_tags(demo_pos, cache):
    with pytest.raises(ExplorerError, match="without a XPOS tag"):
        pos_probe(make_tiny("gpt"), *demo_pos, tagset="xpos", cache_dir=cache)
    one = [TaggedSentence(["a", "b"], ["X", "X"], [None, None], "s", 1)]
    with pytest.raises(ExplorerError, match="single tag"):
        pos_probe(make_tiny("gpt"), one, one, cache_dir=cache)


def test_unseen_test_tags_count_as_errors_and_are_reported(demo_pos, cache):
    train, test = demo_pos
    odd = TaggedSentence(["Hello", "there", "?"], ["INTJ", "ADV", "Z"], [None] * 3, "odd", 1)  # Z: never in training
    fives = [TaggedSentence(["5", "%"], ["NUM", "Z"], [None] * 2, "five", 1)]
    df = pos_probe(make_tiny("gpt"), train, [odd] + test[:10] + fives, settings=FAST, cache_dir=cache)
    assert metric(df, "unseen_test_tags").value.iloc[0] == 2 and set(df.task) == {"pos/upos"}
    n = metric(df, "accuracy").n.iloc[0]
    for name in ("accuracy", "mix_accuracy", "majority_baseline", "word_type_baseline"):
        assert (metric(df, name).value <= (n - 2) / n + 1e-9).all()


# -- WSD and WiC -----------------------------------------------------------------------------------

def test_framework_scoring_counts_any_gold_key_and_unanswered_lowers_recall_only():
    insts = [SenseInstance(str(i), "x", "NOUN", 0, 1, keys) for i, keys in enumerate([("a", "b"), ("c",), ("d",)])]
    scores = framework_scores(["b", "x", None], insts)
    assert scores["precision"] == 0.5 and scores["recall"] == pytest.approx(1 / 3)
    assert scores["f1"] == pytest.approx(0.4)


def test_minilm_wsd_on_the_demo_set_rises_above_mfs(minilm, cache):
    train, test = read_sense_file(DEMO_SENSES_TRAIN), read_sense_file(DEMO_SENSES_TEST)
    df = wsd_probe(minilm, train, test, name="demo", settings=FAST, cache_dir=cache)
    f1 = metric(df, "f1").set_index("layer").value
    mfs = metric(df, "mfs_f1").value.iloc[0]
    assert f1.max() > mfs + 0.25 and f1.max() > f1[0] + 0.1  # contextual layers separate senses
    assert metric(df, "mix_weight").value.sum() == pytest.approx(1, abs=1e-5)


def test_wsd_falls_back_to_the_most_frequent_sense_for_lemmas_without_centroids(cache):
    train, test = read_sense_file(DEMO_SENSES_TRAIN), read_sense_file(DEMO_SENSES_TEST)
    df = wsd_probe(make_tiny("gpt"), train, test, name="demo", max_train_sentences=2,
                   settings=ProbeSettings(mix=False), cache_dir=cache)
    # Two training sentences, one held out as dev: one has a centroid; every other test instance gets its lemma's MFS.
    n_test = len(test)
    assert (metric(df, "f1").value - metric(df, "mfs_f1").value.iloc[0]).abs().max() <= 4 / n_test
    assert (metric(df, "recall").value > 0.3).all()


def test_semcor_mfs_with_wordnet_backoff_on_raganato_all_matches_the_published_baseline():
    train = read_wsd_xml(shared_data("semcor30_wn30", "semcor.data.xml"))
    test = read_wsd_xml(shared_data("wsd_eval_framework", "Evaluation_Datasets", "ALL", "ALL.data.xml"))
    wordnet = wordnet_first_senses(shared_data("open_english_wordnet_2025", "oewn-2025-src-yaml.zip"))
    assert wordnet[("bank", "NOUN")] == "bank%1:17:01::"  # sloping land, WordNet's bank#1
    mfs = most_frequent_senses(train)
    insts = [inst for s in test for inst in s.instances]
    semcor_only = framework_scores([mfs.get((i.lemma, i.pos)) for i in insts], insts)
    backed_off = framework_scores([mfs.get((i.lemma, i.pos)) or wordnet.get((i.lemma, i.pos)) for i in insts], insts)
    assert semcor_only["recall"] < semcor_only["precision"]  # lemmas SemCor never saw go unanswered ...
    assert 0.62 < backed_off["f1"] < 0.68  # ... WordNet answers them: Raganato et al. 2017 report MFS 65.5 on ALL


def test_wsd_reports_each_framework_part_of_all(cache):
    test = read_wsd_xml(shared_data("wsd_eval_framework", "Evaluation_Datasets", "ALL", "ALL.data.xml"))
    test = [s for s in test if s.sent_id.endswith(".s000")]  # first sentence of every document: all 5 parts
    train = read_wsd_xml(shared_data("wsd_eval_framework", "Evaluation_Datasets", "semeval2013",
                                     "semeval2013.data.xml"))
    df = wsd_probe(make_tiny("bert"), train, test, name="ALL", settings=ProbeSettings(mix=False), cache_dir=cache)
    assert set(df.task) == {"wsd/ALL", "wsd/senseval2", "wsd/senseval3", "wsd/semeval2007", "wsd/semeval2013",
                            "wsd/semeval2015"}
    n = df[df.metric == "f1"].groupby("task").n.first()
    assert n["wsd/ALL"] == n.drop("wsd/ALL").sum()


class ToyFeatures:
    """Features whose vector at layer l is one-hot in the letter code[l] of the sentence's last word (the words
    "bank" "aab": layers 0 and 1 point to sense a, layer 2 to sense b), so each layer's right or wrong is chosen."""

    def __init__(self, sentences, select):
        codes = [words[-1] for words, sel in zip(sentences, select) for _ in sel]
        self.offsets = np.cumsum([0] + [len(sel) for sel in select])
        self.missing = np.zeros(len(codes), dtype=bool)
        self.n_layers, self.dim = len(codes[0]), 2
        self.vectors = [torch.tensor([[1.0, 0.0] if c[l] == "a" else [0.0, 1.0] for c in codes])
                        for l in range(self.n_layers)]

    def layer(self, layer, rows=None):
        return self.vectors[layer] if rows is None else self.vectors[layer][np.asarray(rows)]


def toy_senses(codes_and_senses):
    """One sentence per (code, gold sense) of the lemma "bank" (senses a and b), the target word first."""
    return [SenseSentence(f"s{i}", ["bank", code], [SenseInstance(f"s{i}.t0", "bank", "NOUN", 0, 1,
                                                                  (f"bank%{sense}",))])
            for i, (code, sense) in enumerate(codes_and_senses)]


def test_wsd_best_layer_is_chosen_on_dev_even_where_another_layer_wins_on_test(monkeypatch):
    from types import SimpleNamespace

    from explorer.analysis import wsd

    monkeypatch.setattr(wsd, "extract_features", lambda model, sentences, select, **_: ToyFeatures(sentences, select))
    model = SimpleNamespace(name="toy", n_layers=2)  # layers 0, 1, 2
    train = toy_senses([("aaa", "a")] * 3 + [("bbb", "b")] * 3)  # every layer right on training
    dev = toy_senses([("aba", "a"), ("bab", "b")] * 2)  # layers 0 and 2 right, layer 1 wrong on dev
    test = toy_senses([("bab", "a")] * 8 + [("aba", "a")] * 2 + [("bab", "b")] * 2 + [("aba", "b")] * 8)
    df = wsd_probe(model, train, test, dev=dev, name="toy", settings=ProbeSettings(mix=False, bootstrap=200))
    f1, dev_f1 = (metric(df, m).set_index("layer").value for m in ("f1", "dev_f1"))
    assert dev_f1.to_dict() == {0: 1.0, 1: 0.0, 2: 1.0} and f1.idxmax() == 1  # test would pick layer 1
    assert f1.tolist() == pytest.approx([0.2, 0.8, 0.2])
    assert sorted(metric(df, "best_layer").layer) == [0, 2]  # dev's choice, a tie listed as a tie
    low, high = (metric(df, f"f1_ci_{b}").set_index("layer").value for b in ("low", "high"))
    assert (low <= f1 + 1e-12).all() and (f1 <= high + 1e-12).all() and low[1] < 0.75 < 0.85 < high[1]
    [s] = summary(df)
    assert s["metric"] == "f1" and s["best_layers"] == [0, 2] and s["test_f1"] == pytest.approx({0: 0.2, 2: 0.2})
    assert s["dev_f1"] == {0: 1.0, 2: 1.0} and s["selectivity"] is None and s["ci_low"][0] < 0.2 < s["ci_high"][0]
    flags = layer_table(df).set_index("layer").flag
    assert list(flags) == ["best (dev)", "", "best (dev)"]
    assert list(layer_table(df).columns[3:7]) == ["dev_f1", "f1", "f1_ci_low", "f1_ci_high"]


def test_wsd_holds_out_a_seeded_dev_share_of_the_training_sentences(monkeypatch):
    from types import SimpleNamespace

    from explorer.analysis import wsd

    monkeypatch.setattr(wsd, "extract_features", lambda model, sentences, select, **_: ToyFeatures(sentences, select))
    model = SimpleNamespace(name="toy", n_layers=1)
    train = toy_senses([("aa", "a")] * 10 + [("bb", "b")] * 10)
    df = wsd_probe(model, train, train[:4], settings=ProbeSettings(mix=False, dev_fraction=0.2))
    assert (metric(df, "dev_f1").n == 4).all() and sorted(metric(df, "best_layer").layer) == [0, 1]
    with pytest.raises(ExplorerError, match="too few training sentences"):
        wsd_probe(model, train[:1], train[:1], settings=ProbeSettings(mix=False))


def test_wic_best_layer_is_chosen_on_dev_even_where_another_layer_wins_on_test(monkeypatch):
    from types import SimpleNamespace

    from explorer.analysis import wsd
    from explorer.data.wic import WicPair

    def similarities(model, pairs, *args):  # code letter per layer: h = similar (0.9), l = not (0.1)
        return np.array([[0.9 if p.words1[0][l] == "h" else 0.1 for p in pairs] for l in range(3)])

    def pairs(codes_and_labels):
        return [WicPair("bank", "NOUN", (code,), 0, ("x",), 0, same) for code, same in codes_and_labels]

    monkeypatch.setattr(wsd, "_pair_similarities", similarities)
    model = SimpleNamespace(name="toy", n_layers=2)
    train = pairs([("hhh", True), ("lll", False)] * 5)
    dev = pairs([("hlh", True), ("lhl", False)] * 3)
    test = pairs([("lhl", True)] * 7 + [("llh", True)] * 3 + [("hlh", False)] * 10)
    df = wic_probe(model, train, test, dev=dev, name="toy", settings=ProbeSettings(bootstrap=200))
    acc = metric(df, "accuracy").set_index("layer").value
    assert acc.idxmax() == 1 and sorted(metric(df, "best_layer").layer) == [0, 2]
    low, high = (metric(df, f"accuracy_ci_{b}").set_index("layer").value for b in ("low", "high"))
    assert (low <= acc).all() and (acc <= high).all() and low[1] < acc[1] < high[1]
    [s] = summary(df)
    assert s["metric"] == "accuracy" and s["best_layers"] == [0, 2] and s["word_type_baseline"] is None
    assert s["test_accuracy"] == {0: 0.0, 2: 0.15} and s["dev_accuracy"] == {0: 1.0, 2: 1.0}
    # Without a dev set a seeded share of the training pairs is held out of the thresholds.
    df = wic_probe(model, train, test, name="toy", settings=ProbeSettings(dev_fraction=0.2, bootstrap=0))
    assert (metric(df, "dev_accuracy").n == 2).all() and (metric(df, "threshold").n == 8).all()
    assert not (df.metric == "accuracy_ci_low").any() and len(metric(df, "best_layer")) == 3


def test_best_threshold_separates_scores():
    assert 0.3 < best_threshold(np.array([0.1, 0.3, 0.5, 0.9]), np.array([False, False, True, True])) < 0.5


def test_minilm_wic_beats_the_majority_baseline(minilm, cache):
    train = pairs_from_senses(read_sense_file(DEMO_SENSES_TRAIN))
    test = pairs_from_senses(read_sense_file(DEMO_SENSES_TEST))
    steps = []
    df = wic_probe(minilm, train, test, name="demo", cache_dir=cache, on_step=lambda *s: steps.append(s))
    assert metric(df, "accuracy").value.max() > metric(df, "majority_baseline").value.iloc[0] + 0.1
    assert [done for done, _, _ in steps] == [0, 1, 2, 3] and "test pairs" in steps[1][2]  # the page's progress
    with pytest.raises(ExplorerError, match="both T and F"):
        wic_probe(minilm, [p for p in train if p.same], test, cache_dir=cache)


# -- geometry --------------------------------------------------------------------------------------

def test_bank_senses_separate_in_contextual_layers_not_in_the_embeddings(minilm, cache):
    sentences = read_sense_file(DEMO_SENSES_TRAIN) + read_sense_file(DEMO_SENSES_TEST)
    geom = layer_geometry(minilm, sense_points(sentences, "bank"), title="bank", methods=("pca",), cache_dir=cache)
    sep = geom.separation.pivot(index="layer", columns="metric", values="value")
    assert geom.coords["pca"].shape == (7, 10, 2)
    assert sep.centroid_accuracy.max() == 1.0 and sep.centroid_accuracy[0] < 0.8
    assert sep.silhouette[3] > sep.silhouette[0] + 0.2
    fig = geometry_figure(geom, "pca")
    assert len(fig.frames) == 7 and {t.name for t in fig.data} == {"finance", "river_edge"}


def test_umap_layout_and_pos_points_on_a_tiny_model(demo_pos, cache):
    geom = layer_geometry(make_tiny("gpt2"), tag_points(demo_pos[0], limit=60), methods=("pca", "umap"),
                          cache_dir=cache)
    assert geom.coords["umap"].shape == (3, 60, 2) and np.isfinite(geom.coords["umap"]).all()
    colours = [t.marker.color for t in geometry_figure(geom, "pca").data]
    assert len(colours) >= 10 and len(set(colours)) == len(colours)  # every tag its own colour
    assert set(separation_figure(geom).data[0].name.split()) & {"silhouette", "nearest-centroid"}  # no raw names
    with pytest.raises(ExplorerError, match="too few"):
        layer_geometry(make_tiny("gpt2"), tag_points(demo_pos[0], limit=3), cache_dir=cache)


def test_probing_figures_keep_one_legend_entry_per_model_and_room_between_facets():
    rows = [dict(model=f"m{i}", task="pos", layer=layer, metric=metric, value=0.5)
            for i in range(5) for layer in range(3)
            for metric in ("accuracy", "control_accuracy", "selectivity", "mlp_accuracy", "mlp_selectivity", "mix_weight")]
    df = pd.DataFrame(rows)
    shown = [t.name for t in selectivity_figure(df, "pos").data if t.showlegend is not False]
    assert shown == [f"m{i}" for i in range(5)]  # 5 entries, not 25 that overflow the legend
    assert mix_weights_figure(df).layout.height >= 2 * 260  # two rows of panels, each with its own ticks


def test_separation_is_perfect_for_separated_clusters_and_chance_for_noise():
    rng = np.random.default_rng(0)
    labels = np.array(["a"] * 20 + ["b"] * 20)
    clusters = np.concatenate([rng.normal(5, 1, (20, 8)), rng.normal(-5, 1, (20, 8))])
    assert separation(clusters, labels)["centroid_accuracy"] == 1.0
    assert separation(rng.normal(0, 1, (40, 8)), labels)["centroid_accuracy"] < 0.8


# -- saved runs and the CLI ------------------------------------------------------------------------

def test_probe_cli_writes_table_config_and_figures(minilm_path, tmp_path, cache):
    out = tmp_path / "pos"
    code = main(["probe", "pos", "--model", str(minilm_path), "--out", str(out), "--cache", str(cache),
                 "--no-png", "--no-mix"])
    assert code == 0
    df = pd.read_csv(out / "results.csv")
    assert list(df.columns) == COLUMNS and (df.metric == "selectivity").sum() == 7
    config = json.loads((out / "config.json").read_text())
    assert config["data"]["train"]["sha256"] == hashlib.sha256(DEMO_POS_TRAIN.read_bytes()).hexdigest()
    assert config["models"][0]["weights_sha256"] and config["settings"]["seed"] == 0
    assert config["command"][:5] == ["python", "-m", "explorer", "probe", "pos"]  # as run, not a file path
    assert {"accuracy.html", "selectivity.html"} <= {p.name for p in out.iterdir()}
    shared = list(tmp_path.glob("plotly-*.min.js"))  # one plotly.js beside the result folders, none inside
    assert len(shared) == 1 and not list(out.glob("*.js"))
    assert f'src="../{shared[0].name}"' in (out / "accuracy.html").read_text()


def test_probe_cli_reports_dev_choice_control_model_and_conditional_bits(tmp_path, cache, capsys):
    out = tmp_path / "pos"
    code = main(["probe", "pos", "--model", str(make_tiny_dir(tmp_path)), "--out", str(out), "--cache", str(cache),
                 "--no-png", "--no-mix", "--bootstrap", "50", "--conditional", "layer0", "--control-model",
                 "--relative-depth"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "chosen on dev" in printed and "below word type" in printed
    assert "control" not in printed.split("per layer")[0]  # no best layer named for the control task
    df = pd.read_csv(out / "results.csv")
    assert set(df.model) == {"tiny-gpt", "tiny-gpt (random init)"}
    assert {"dev_accuracy", "accuracy_ci_low", "conditional_bits", "best_layer", "below_word_type"} <= set(df.metric)
    config = json.loads((out / "config.json").read_text())
    assert [s["model"] for s in config["summary"]] == ["tiny-gpt", "tiny-gpt (random init)"]
    assert config["settings"]["conditional"] == "layer0" and "conditional_bits.html" in {p.name for p in out.iterdir()}


@pytest.mark.parametrize("task, metric", [("wsd", "f1"), ("wic", "accuracy")])
def test_probe_cli_names_the_dev_chosen_layer_for_word_senses(task, metric, tmp_path, cache, capsys):
    out = tmp_path / task
    code = main(["probe", task, "--model", str(make_tiny_dir(tmp_path)), "--out", str(out), "--cache", str(cache),
                 "--no-png", *(["--no-mix"] if task == "wsd" else [])])
    assert code == 0
    chosen = capsys.readouterr().out.split("per layer:")[0]
    assert "chosen on dev" in chosen and f"tiny-gpt {task}/demo" in chosen and f"dev {metric}" in chosen
    config = json.loads((out / "config.json").read_text())
    assert config["settings"]["mix"] is False  # WiC has no scalar mix, WSD's was switched off
    [s] = config["summary"]
    assert s["metric"] == metric and s["best_layers"] and set(map(int, s[f"test_{metric}"])) == set(s["best_layers"])
    df = pd.read_csv(out / "results.csv")
    assert {f"dev_{metric}", f"{metric}_ci_low", f"{metric}_ci_high", "best_layer"} <= set(df.metric)


@pytest.mark.parametrize("task, counted", [("wsd", "dev_sentences"), ("wic", "dev_pairs")])
def test_probe_cli_word_senses_take_a_dev_file_and_a_tie_tolerance(task, counted, tmp_path, cache):
    """--dev replaces the slice of train; a tolerance of 1 ties every layer, so all are reported as best."""
    out, dev = tmp_path / task, DEMO_SENSES_TEST
    code = main(["probe", task, "--model", str(make_tiny_dir(tmp_path)), "--out", str(out), "--cache", str(cache),
                 "--no-png", "--dev", str(dev), "--tie-tolerance", "1", "--bootstrap", "20",
                 *(["--no-mix"] if task == "wsd" else [])])
    assert code == 0
    config = json.loads((out / "config.json").read_text())
    assert config["data"]["dev"]["sha256"] == hashlib.sha256(dev.read_bytes()).hexdigest() and config[counted] > 0
    df = pd.read_csv(out / "results.csv")
    layers = set(df[df.layer.notna() & (df.metric != "threshold")].layer.astype(int))
    assert set(config["summary"][0]["best_layers"]) == layers


def test_probe_tasks_have_their_own_help(capsys):
    helps = {}
    for task in ("pos", "wic"):
        with pytest.raises(SystemExit):
            main(["probe", task, "--help"])
        helps[task] = capsys.readouterr().out
    assert "--codelength" in helps["pos"] and "--tagset" in helps["pos"] and "95 %" in helps["pos"]
    assert "--codelength" not in helps["wic"] and "WiC" in helps["wic"] and helps["pos"] != helps["wic"]


def test_probe_cli_bad_input_saves_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.conllu"
    bad.write_text("1\tThe\tthe\tDET\n")
    out = tmp_path / "out"
    assert main(["probe", "pos", "--model", str(tmp_path / "no-such-model"), "--out", str(out)]) == 2
    code = main(["probe", "pos", "--model", str(make_tiny_dir(tmp_path)), "--train", str(bad), "--test", str(bad),
                 "--out", str(out)])
    assert code == 2 and f"{bad}, line 1" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".out.partial-*"))
    assert main(["probe", "wsd", "--model", "x", "--train", str(bad)]) == 2  # --test missing


def test_probe_cli_reads_chosen_columns_and_names_the_tag_set(tmp_path, cache):
    data, out = Path(__file__).parent / "fixtures" / "pos" / "conll2000_mini.txt", tmp_path / "chunks"
    code = main(["probe", "pos", "--model", str(make_tiny_dir(tmp_path)), "--train", str(data), "--test", str(data),
                 "--tag-col", "2", "--out", str(out), "--cache", str(cache), "--no-png", "--no-mix"])
    assert code == 0
    df = pd.read_csv(out / "results.csv")
    assert set(df.task) == {"pos/conll2000_mini"} and (df.metric == "accuracy").sum() == 3
    config = json.loads((out / "config.json").read_text())
    assert (config["tagset"], config["word_col"], config["tag_col"]) == ("conll2000_mini", None, 2)


def test_wsd_probe_runs_on_a_senseval_lexical_sample(cache):
    sentences = read_sense_file(Path(__file__).parent / "fixtures" / "senseval" / "mini-lexsample.xml")
    df = wsd_probe(make_tiny("gpt"), sentences, sentences, name="senseval", settings=ProbeSettings(mix=False),
                   cache_dir=cache)
    f1 = metric(df, "f1")
    assert len(f1) == 3 and set(df.task) == {"wsd/senseval"} and (f1.n == 6).all()


def make_tiny_dir(tmp_path):
    folder = tmp_path / "tiny-gpt"
    if not folder.exists():
        make_tiny("gpt").save(folder)
    return folder


def test_save_run_is_all_or_nothing(tmp_path):
    class Broken:
        def write_html(self, *a, **k):
            raise RuntimeError("disk full")

    table = pd.DataFrame([dict(model="m", layer=0, task="t", metric="accuracy", value=1.0, n=1)])
    with pytest.raises(RuntimeError):
        save_run(tmp_path / "run", table, dict(fig=Broken()), {})
    left = {p.name for p in tmp_path.iterdir()}  # nothing of the run; the shared plotly.js may stay for the next
    assert not (tmp_path / "run").exists() and all(name.startswith("plotly-") for name in left)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(ExplorerError, match="not a probe result folder"):
        save_run(tmp_path / "mine", table, {}, {})
