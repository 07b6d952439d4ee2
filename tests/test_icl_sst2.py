"""The in-context-learning lab on SST-2: label presets, contextual calibration, the cached prefix, what fits."""
import random

import numpy as np
import pytest
from conftest import make_tiny, shared_data, shipped

from explorer.analysis import prompting
from explorer.analysis.prompting import (CONTENT_FREE, accuracy_curve, build_prompt, calibrate, evaluate,
                                         fit_prompt, label_biases, make_prompt, score_answers)
from explorer.data.tasks import get_task, read_sst2, relabel, sst2
from explorer.errors import ExplorerError, TruncationWarning

GOOD = "a lovely film with fine acting . | warm and funny | the best movie of the year | a moving story".split(" | ")
BAD = "a dull and boring mess | the worst script ever | painfully slow | a tired joke that never lands".split(" | ")


def write_split(path, rows):
    path.write_text("sentence\tlabel\n" + "".join(f"{s} \t{y}\n" for s, y in rows))  # GLUE's trailing space


@pytest.fixture
def folder(tmp_path):
    rng = random.Random(0)
    train = [(f"{s} number {i}", y) for i in range(10) for s, y in [(g, 1) for g in GOOD] + [(b, 0) for b in BAD]]
    rng.shuffle(train)
    write_split(tmp_path / "train.tsv", train)
    write_split(tmp_path / "dev.tsv", [(f"{s} again", 1) for s in GOOD] + [(f"{s} again", 0) for s in BAD])
    return tmp_path


def demo_labels(prompt):
    return [line.removeprefix("Sentiment: ") for line in prompt.text.split("\n") if line.startswith("Sentiment: ")]


def test_sst2_reads_glue_files_and_shares_one_draw_per_seed(folder):
    task = sst2(folder)
    assert task.labels == ("negative", "positive") and len(task.examples) == 8 and task.max_shots == 80
    assert {e.output for e in task.examples} == {"negative", "positive"}
    assert all(not e.input.endswith(" ") for e in task.demos)
    first, other = make_prompt(task, 0, 4, seed=3), make_prompt(task, 5, 4, seed=3)
    assert first.demos == other.demos and first.demos != make_prompt(task, 0, 4, seed=4).demos
    assert first.text.startswith(f"Review: {first.demos[0].input}\nSentiment: {first.demos[0].output}\n\nReview: ")
    assert first.text.endswith(f"Review: {first.query.input}\nSentiment:")


def test_presets_put_the_labels_they_claim_in_the_prompt(folder):
    task, k = sst2(folder), 8
    gold = make_prompt(task, 0, k, 0)
    truth = [d.output for d in gold.demos]
    assert demo_labels(gold) == truth
    flip = {"negative": "positive", "positive": "negative"}
    flipped = make_prompt(relabel(task, "flipped"), 0, k, 0)
    assert [d.input for d in flipped.demos] == [d.input for d in gold.demos]
    assert demo_labels(flipped) == [flip[y] for y in truth] and flipped.query.output == gold.query.output
    draws = [demo_labels(make_prompt(relabel(task, "random"), 0, k, seed)) for seed in range(10)]
    assert all(set(d) <= {"negative", "positive"} for d in draws)
    assert len({tuple(d) for d in draws}) > 1  # random labels vary with the draw
    unrelated = relabel(task, "unrelated")
    mapped = make_prompt(unrelated, 0, k, 0)
    assert unrelated.labels == ("foo", "bar") and demo_labels(mapped) == [
        {"negative": "foo", "positive": "bar"}[y] for y in truth]
    assert mapped.query.output == {"negative": "foo", "positive": "bar"}[gold.query.output]
    bare = make_prompt(relabel(task, "none"), 0, k, 0)
    assert demo_labels(bare) == [] and bare.text.count("Sentiment:") == 1  # only the query's cue
    assert bare.text.startswith(f"Review: {gold.demos[0].input}\n\nReview: ")


def test_calibration_divides_by_the_content_free_probabilities():
    logliks = np.log([[0.8, 0.2], [0.6, 0.4], [0.9, 0.1]])
    content_free = np.log([[0.7, 0.3], [0.9, 0.1]])  # mean p_cf = (0.8, 0.2)
    got = calibrate(logliks, content_free)
    expected = np.array([[0.8, 0.2], [0.6, 0.4], [0.9, 0.1]]) / [0.8, 0.2]
    np.testing.assert_allclose(got, expected / expected.sum(1, keepdims=True))
    assert got[0] == pytest.approx([0.5, 0.5]) and got.argmax(1).tolist() == [0, 1, 0]  # the bias is divided out


def test_calibrated_evaluation_scores_content_free_queries_after_the_same_demonstrations(folder):
    model, task = shipped("gpt2-tiny"), sst2(folder)
    ev = evaluate(model, task, 2, 0, n_queries=8, calibrated=True)
    prompts = [make_prompt(task, i, 2, 0) for i in range(8)]
    options = [" negative", " positive"]
    raw = np.array(score_answers(model, [p.text for p in prompts], [options] * 8))
    cf = np.array(score_answers(model, [build_prompt(prompts[0].demos, x, task.template) for x in CONTENT_FREE],
                                [options] * 3))
    t = ev.predictions
    assert t.answer.tolist() == [task.labels[i] for i in calibrate(raw, cf).argmax(1)]
    assert t.raw_answer.tolist() == [task.labels[i] for i in raw.argmax(1)]
    assert t.last_label.tolist() == [prompts[0].demos[-1].output] * 8
    biases = label_biases(t, "raw_answer")
    assert biases["majority"] == t.raw_answer.value_counts(normalize=True).max()
    assert biases["recency"] == (t.raw_answer == t.last_label).mean()


@pytest.mark.parametrize("name", ["gpt2-tiny", "gpt3-tiny"])
def test_cached_prefix_scores_equal_uncached_scores(folder, name, monkeypatch):
    model, task = shipped(name), sst2(folder)
    prompts = [fit_prompt(model, task, i, 4, 0).text for i in range(8)]
    options = [[" positive", " negative", " not sure at all"]] * 8  # one-token and several-token answers
    shared = []
    batches = prompting._batches
    monkeypatch.setattr(prompting, "_batches", lambda *a, **kw: shared.append(a[4] if len(a) > 4 else 0)
                        or batches(*a, **kw))
    cached = np.array(score_answers(model, prompts, options, cache=True))
    assert shared and min(shared) > 40  # the demonstrations really ran once, from the cache
    np.testing.assert_allclose(cached, np.array(score_answers(model, prompts, options, cache=False)), atol=1e-4)


def test_more_shots_than_fit_report_how_many_fit(folder):
    small, task = make_tiny("gpt2"), sst2(folder)  # a 64-token context
    with pytest.warns(TruncationWarning, match="only"):
        curve = accuracy_curve([small], task, ks=(0, 16), seeds=2, n_queries=4)
    fitted = curve.table[curve.table.k == 16].shots_used
    assert (fitted < 16).all() and any(f"only {fitted.min()} shots fit" in n for n in curve.notes)
    assert {"majority_bias", "recency_bias"} <= set(curve.table.columns)


def test_empty_or_one_class_sst2_files_are_refused(tmp_path):
    cases = {"empty.tsv": "", "header.tsv": "sentence\tlabel\n", "one.tsv": "good\t1\nfine\t1\n",
             "bad.tsv": "sentence\tlabel\ngood\t3\n", "noheader.tsv": "good\t1\nbad\t0\n"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text if name != "one.tsv" else "sentence\tlabel\n" + text)
    for name, message in (("empty.tsv", "header"), ("noheader.tsv", "header"), ("header.tsv", "0 review"),
                          ("one.tsv", "labelled positive"), ("bad.tsv", "line 2"), ("missing.tsv", "does not exist")):
        with pytest.raises(ExplorerError, match=message):
            read_sst2(tmp_path / name)


def test_sst2_task_names_take_every_preset():
    folder = shared_data("sst2")
    task = get_task("sst2_unrelated")
    assert task.labels == ("foo", "bar") and len(task.examples) == 872 and task.max_shots == 67349
    assert task.examples[:3] != read_sst2(folder / "dev.tsv")[:3]  # shuffled: the file runs in label blocks


def test_fewshot_cli_runs_sst2_presets_calibrated(tmp_path):
    import json

    import pandas as pd

    from explorer.cli import main

    shared_data("sst2")
    out = tmp_path / "out"
    assert main(["fewshot", "--task", "sst2_flipped", "--model", "gpt2-tiny", "--k", "0,1", "--seeds", "1",
                 "--queries", "4", "--calibrate", "--out", str(out)]) == 0
    table = pd.read_csv(out / "results.csv")
    assert set(table.task) == {"sst2_flipped"} and {"majority_bias", "recency_bias"} <= set(table.columns)
    config = json.loads((out / "config.json").read_text())
    assert config["calibrated"] and config["label_mode"] == "flipped"
    assert "raw_answer" in pd.read_csv(out / "predictions.csv").columns
