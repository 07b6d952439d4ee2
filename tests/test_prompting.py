"""Few-shot prompting: prompts exactly as templated, label scoring, the label controls, accuracy against k."""
import json
import random
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import make_tiny, shipped

from explorer.analysis.prompting import (accuracy_curve, build_prompt, check_causal, compare, curve_figure,
                                         evaluate, generate, make_prompt, score_answers, shot_ladder)
from explorer.cli import main
from explorer.data import icl
from explorer.data.tasks import Example, Task, Template, get_task, load_task_file, relabel, task_names
from explorer.errors import ExplorerError, TruncationWarning
from explorer.families import REGISTRY
from explorer.families.hf import HFModel


# -- constructed models -------------------------------------------------------------------------------
class CopyNet(torch.nn.Module):
    """Reads the mapping: at each position it predicts the token that followed the longest earlier match of the
    text so far (an ideal induction head), and attends there with head 0 (head 1: the previous token)."""

    def __init__(self, vocab):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, 1)
        self.config = SimpleNamespace(num_hidden_layers=1, num_attention_heads=2, hidden_size=1,
                                      max_position_embeddings=512)

    def get_input_embeddings(self):
        return self.embed

    def forward(self, input_ids, attention_mask=None, output_attentions=False, **_):
        batch, width = input_ids.shape
        logits = torch.zeros(batch, width, self.embed.num_embeddings)
        att = torch.zeros(batch, 2, width, width)
        for b in range(batch):
            ids = input_ids[b].numpy()
            match = np.zeros(width, dtype=int)  # match[j]: common suffix length of ids[..j] and ids[..q]
            for q in range(width):
                prev = np.concatenate([[0], match[:-1]])
                match = np.where(ids == ids[q], prev + 1, 0)
                match[q:] = 0
                if match.max() > 0:
                    j = q - 1 - int(np.argmax(match[:q][::-1]))  # the latest of the longest matches
                    logits[b, q, ids[j + 1]] = 20.0
                    att[b, 0, q, j + 1] = 1.0
                else:
                    att[b, 0, q, 0] = 1.0
                att[b, 1, q, max(q - 1, 0)] = 1.0
        return SimpleNamespace(logits=logits, attentions=(att,))


class UnigramNet(CopyNet):
    """Ignores the context: the same fixed next-token scores everywhere."""

    def __init__(self, vocab, seed=0):
        super().__init__(vocab)
        self.bias = torch.randn(vocab, generator=torch.Generator().manual_seed(seed)) * 3

    def forward(self, input_ids, attention_mask=None, output_attentions=False, **_):
        return SimpleNamespace(logits=self.bias.expand(*input_ids.shape, -1).clone(), attentions=None)


def fake(net_class, family="gpt2"):
    """A transformer-family model around a constructed network (its config: 1 layer, 2 heads, 512 positions)."""
    tok = make_tiny(family).tokenizer
    return HFModel(net_class(len(tok)), tok, f"{net_class.__name__.lower()}-{family}", REGISTRY[family])


# -- prompts ------------------------------------------------------------------------------------------
def test_prompt_is_built_exactly_as_the_template_says():
    demos = [Example("a great film", "positive"), Example("a dull book", "negative")]
    assert build_prompt(demos, "a calm sea") == "a great film -> positive\na dull book -> negative\na calm sea ->"
    template = Template("Review: {input}\nSentiment:", " {output}", "\n\n")
    assert build_prompt(demos, "a calm sea", template, "Classify each review.") == (
        "Classify each review.\n\nReview: a great film\nSentiment: positive\n\nReview: a dull book\nSentiment: negative"
        "\n\nReview: a calm sea\nSentiment:")
    assert build_prompt([], "a calm sea") == "a calm sea ->"


def test_builtin_prompts_are_golden_and_seeded():
    assert make_prompt(get_task("reversed_words"), 0, 2, 0).text == "cisum = music\nniatpac = captain\ntuoba ="
    add = make_prompt(get_task("add2"), 0, 1, 0, instruction="Add the numbers.")
    assert add.text == "Add the numbers.\nQ: What is 61 plus 80? A: 141\nQ: What is 29 plus 81? A:"
    task = get_task("sentiment")
    p0, p0_again, p1 = (make_prompt(task, 3, 4, s) for s in (0, 0, 1))
    assert p0.text == p0_again.text and p0.demos != p1.demos
    assert p0.query not in p0.demos and p0.shots == 4


def test_retrieval_prompt_is_the_training_format():
    task = get_task("retrieval")
    for k in (0, 1, 8):
        p = make_prompt(task, 5, k, 2)
        lines = "".join(icl.TEMPLATE.format(input=d.input, output=d.output) for d in p.demos)
        assert p.text + p.template.answer(p.query.output) + p.template.separator == (
            lines + icl.TEMPLATE.format(input=p.query.input, output=p.query.output))
        assert len({d.input for d in p.demos}) == k and set(d.input for d in p.demos) <= set(icl.KEYS)
        assert p.query.output in icl.VALUES
        if k:
            assert p.query in p.demos
    assert task.labels == tuple(icl.VALUES) and task.chance == pytest.approx(0.1)


def test_gpt3_synthetic_tasks_scramble_as_the_paper_says():
    for name in ("cycle_letters", "anagram1", "anagram2", "random_insertion", "reversed_words"):
        for ex in get_task(name).examples[:40]:
            x, w = ex.input, ex.output
            if name == "cycle_letters":
                assert x in w + w and x != w
            elif name.startswith("anagram"):
                keep = 1 if name == "anagram1" else 2
                assert x[:keep] == w[:keep] and x[-keep:] == w[-keep:] and sorted(x) == sorted(w)
            elif name == "random_insertion":
                assert x[::2] == w and len(x) == 2 * len(w) - 1
            else:
                assert x == w[::-1]
    for name, op in (("add2", int.__add__), ("sub2", int.__sub__)):
        for ex in get_task(name).examples:
            a, word, b = ex.input.split()
            assert 10 <= int(a) <= 99 and 10 <= int(b) <= 99 and int(ex.output) == op(int(a), int(b))


def test_permuted_and_random_labels():
    natural, permuted, rand = (get_task(n) for n in ("sentiment", "sentiment_permuted", "sentiment_random"))
    flip = {"positive": "negative", "negative": "positive"}
    for i in range(5):
        (nd, nq), (pd_, pq), (rd, rq) = (t.episode(i, 6, 0) for t in (natural, permuted, rand))
        assert [d.input for d in nd] == [d.input for d in pd_] == [d.input for d in rd]
        assert [flip[d.output] for d in nd] == [d.output for d in pd_] and pq.output == flip[nq.output]
        assert rq == nq and {d.output for d in rd} <= set(natural.labels)
    assert relabel(permuted, "natural").name == "sentiment"
    with pytest.raises(ExplorerError, match="open answers"):
        relabel(get_task("add2"), "permuted")
    assert {"sentiment_permuted", "animal_object_random", "retrieval", "anagram2", "sub2"} <= set(task_names())


# -- scoring ------------------------------------------------------------------------------------------
def test_label_scoring_picks_the_higher_log_likelihood():
    model = fake(UnigramNet)
    logp = model.net.bias.log_softmax(-1)
    labels = [" positive", " negative", " 7"]
    expected = [float(logp[model.tokenizer(t)["input_ids"]].sum()) for t in labels]
    scores = score_answers(model, ["a calm sea ->"], [labels])[0]
    np.testing.assert_allclose(scores, expected, rtol=1e-5)
    table = compare([model], "a calm sea ->", ["positive", "negative", "7"])
    assert table.answer[0] == ["positive", "negative", "7"][int(np.argmax(expected))]
    assert table.probability[0] == pytest.approx(np.exp(max(expected)), rel=1e-4)


@pytest.mark.parametrize("family", ["gpt", "gpt2", "gpt3"])
def test_scores_equal_the_joint_sequence_log_probs(family):
    """Shared-prefix scoring equals scoring prompt+answer as one text, also when a token straddles the boundary."""
    model = make_tiny(family)
    cases = [("the old dog barked at ->", [" the", " a river", " 1999"]), ("the red ap", ["ple", "ples tree"])]
    for prompt, answers in cases:
        got = score_answers(model, [prompt], [answers])[0]
        for answer, value in zip(answers, got):
            enc = model.tokenizer(prompt + answer, return_offsets_mapping=True, add_special_tokens=False)
            ids = [model.tokenizer.eos_token_id] + enc["input_ids"]
            first = 1 + next(i for i, (_, e) in enumerate(enc["offset_mapping"]) if e > len(prompt))
            with torch.no_grad():
                lp = model.net(input_ids=torch.tensor([ids])).logits[0].log_softmax(-1)
            assert value == pytest.approx(float(sum(lp[t - 1, ids[t]] for t in range(first, len(ids)))), abs=1e-4)


def test_greedy_decoding_stops_at_the_separator():
    model = fake(CopyNet)
    (answer, logps), = generate(model, ["apple -> pear\nbird -> fish tank\ncup -> tea\nbird ->"])
    assert answer.strip() == "fish tank" and np.exp(sum(logps)) > 0.99
    table = compare([model, fake(UnigramNet)], "apple -> pear\nbird -> fish\napple ->", expected="pear")
    assert table.correct.tolist() == [True, False]


def _word_lookup(rng, k):
    """An open-answer task a copying model can solve: key -> word pairs, then one of the keys."""
    keys = rng.sample(icl.KEYS, max(k, 1))
    demos = [Example(key, rng.choice(["dog", "river", "bank", "garden", "window"])) for key in keys][:k]
    return demos, (rng.choice(demos) if demos else Example(keys[0], "dog"))


@pytest.mark.parametrize("family", ["gpt", "gpt2"])  # GPT's tokenizer drops newlines: answers still compare right
def test_open_answers_are_scored_by_exact_match(family):
    task = Task("lookup", "word lookup", (Example("x", "garden"),), episode_maker=_word_lookup)
    copy = evaluate(fake(CopyNet, family), task, 4, 0, n_queries=10)
    assert copy.accuracy >= 0.9 and (copy.predictions.answer == copy.predictions.expected).mean() >= 0.9
    assert evaluate(fake(UnigramNet, family), task, 4, 0, n_queries=10).accuracy == 0


def test_permuted_labels_change_the_answers_of_a_model_that_reads_the_mapping():
    task = get_task("retrieval")
    permuted = relabel(task, "permuted")
    reader, prior = fake(CopyNet), fake(UnigramNet)
    shift = {v: icl.VALUES[(i + 1) % 10] for i, v in enumerate(icl.VALUES)}
    natural_answers = evaluate(reader, task, 8, 0, n_queries=20).predictions.answer
    permuted_run = evaluate(reader, permuted, 8, 0, n_queries=20)
    assert permuted_run.accuracy >= 0.9  # it follows the permuted mapping shown in the prompt
    assert (permuted_run.predictions.answer == natural_answers.map(shift)).mean() >= 0.9
    assert evaluate(prior, task, 8, 0, 20).predictions.answer.tolist() == \
        evaluate(prior, permuted, 8, 0, 20).predictions.answer.tolist()


def test_accuracy_curve_rises_for_a_reader_and_cuts_shots_beyond_the_context():
    reader = fake(CopyNet)
    small = make_tiny("gpt2")  # 64-token context
    with pytest.warns(TruncationWarning, match="only"):
        curve = accuracy_curve([reader, small], get_task("retrieval"), ks=(0, 1, 4, 12), seeds=2, n_queries=10)
    t = curve.table
    assert list(t.columns[:5]) == ["model", "task", "k", "seed", "accuracy"] and len(t) == 2 * 4 * 2
    mean = t.groupby(["model", "k"]).accuracy.mean()
    assert mean[(reader.name, 0)] <= 0.4 and mean[(reader.name, 1)] == 1 and mean[(reader.name, 4)] == 1
    fitted = t[(t.model == small.name) & (t.k == 12)].shots_used
    assert (fitted < 12).all() and any(f"only {fitted.min()} shots fit" in n for n in curve.notes)
    assert set(curve.predictions.columns) >= {"model", "k", "seed", "prompt", "answer", "expected", "correct"}
    fig = curve_figure(t, chance=0.1)
    assert [tr.name for tr in fig.data if tr.name] == [reader.name, small.name] and len(fig.data) == 4
    assert fig.layout.xaxis.ticktext[-1] == f"12<br>(only {fitted.min()} fit)"  # not plotted as if 12 fitted
    assert shot_ladder([small], get_task("retrieval"))[-1] < 12


def test_non_causal_models_cannot_be_prompted():
    for family, why in (("bert", "masked words"), ("elmo", "vectors")):
        with pytest.raises(ExplorerError, match=f"cannot be prompted: .*{why}"):
            check_causal(make_tiny(family))
        with pytest.raises(ExplorerError, match="cannot be prompted"):
            accuracy_curve([make_tiny(family)], get_task("sentiment"), ks=(0,), seeds=1, n_queries=1)


# -- user task files ------------------------------------------------------------------------------------
def test_user_task_files(tmp_path):
    good = tmp_path / "capitals.csv"
    good.write_text("input,output\nfrance,paris\nspain,madrid\nitaly,rome\n")
    task = load_task_file(good)
    assert task.name == "capitals" and not task.classification and len(task.examples) == 3
    assert make_prompt(task, 0, 2, 0).text.endswith("france ->")
    labelled = tmp_path / "moods.json"
    labelled.write_text(json.dumps({"instruction": "Mood?", "labels": ["happy", "sad"], "examples": [
        {"input": "a smile", "output": "happy"}, {"input": "tears", "output": "sad"}]}))
    task = get_task(str(labelled))
    assert task.labels == ("happy", "sad") and task.instruction == "Mood?"
    auto = tmp_path / "auto.json"
    auto.write_text(json.dumps([{"input": f"w{i}", "output": "ab"[i % 2]} for i in range(6)]))
    assert load_task_file(auto).labels == ("a", "b")

    bad = {
        "cols.csv": ("question,answer\nfoo,bar\n", "lacks the column.*input, output"),
        "empty.csv": ("input,output\nfoo,\nbar,baz\n", "example 1 has an empty output"),
        "dup.csv": ("input,output\nfoo,a\nbar,b\nfoo,b\n", "example 3 repeats the input 'foo' of example 1"),
        "one.csv": ("input,output\nfoo,a\n", "at least 2"),
        "duplabels.json": (json.dumps({"labels": ["a", "b", "a"], "examples": [{"input": "x", "output": "a"},
                                                                                {"input": "y", "output": "b"}]}),
                           "lists 'a' more than once"),
        "emptylabel.json": (json.dumps({"labels": ["a", ""], "examples": [{"input": "x", "output": "a"},
                                                                           {"input": "y", "output": "a"}]}),
                            "empty label"),
        "missing.json": (json.dumps([{"input": "x"}]), "example 1 lacks 'output'"),
        "broken.json": ("[{", "not valid JSON"),
    }
    for name, (text, message) in bad.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ExplorerError, match=message):
            load_task_file(tmp_path / name)
    with pytest.raises(ExplorerError, match="unknown task"):
        get_task("translation")


# -- CLI ----------------------------------------------------------------------------------------------
def test_fewshot_cli(tmp_path, capsys):
    model_dir = make_tiny("gpt2", 1).save(tmp_path / "gpt2-small")
    out = tmp_path / "run"
    code = main(["fewshot", "--task", "retrieval", "--model", str(model_dir), "--model", str(model_dir),
                 "--k", "0,2", "--seeds", "2", "--queries", "4", "--induction", "--out", str(out)])
    assert code == 0
    import pandas as pd

    table = pd.read_csv(out / "results.csv")
    assert list(table.columns[:5]) == ["model", "task", "k", "seed", "accuracy"] and len(table) == 8
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "retrieval" and config["ks"] == [0, 2] and config["seeds"] == [0, 1]
    assert (out / "accuracy.html").exists() and "retrieval" in capsys.readouterr().out
    assert {"induction_loss.html", "induction_heads_gpt2-small.html"} <= {p.name for p in out.iterdir()}
    assert config["induction"] and len(pd.read_csv(out / "icl_score.csv")) == 2

    bert_dir = make_tiny("bert", 1).save(tmp_path / "bert-small")
    assert main(["fewshot", "--task", "retrieval", "--model", str(bert_dir), "--out", str(out)]) == 2
    assert "cannot be prompted" in capsys.readouterr().err
    assert main(["fewshot", "--task", "retrieval", "--model", str(model_dir), "--k", "0,x", "--out", str(out)]) == 2
    assert "--k must be" in capsys.readouterr().err


# -- the shipped models -------------------------------------------------------------------------------
def _retrieval_rise(models) -> tuple[dict, dict]:
    """Each model's retrieval accuracy at k = 8 minus at k = 0 (3 seeds x 50 queries), and the mean table."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", TruncationWarning)  # 8 shots must fit: no silent truncation
        table = accuracy_curve(models, get_task("retrieval"), ks=(0, 8), seeds=3, n_queries=50).table
    mean = table.groupby(["model", "k"]).accuracy.mean()
    return {m.name: mean[(m.name, 8)] - mean[(m.name, 0)] for m in models}, mean.to_dict()


def test_shipped_gpt2_and_gpt_tiny_learn_retrieval_in_context():
    """Trained with a 50 % share of key value documents, the 3.4M causal models look keys up in the prompt."""
    models = [shipped("gpt2-tiny"), shipped("gpt-tiny")]
    rise, curves = _retrieval_rise(models)
    assert min(rise.values()) >= 0.30, f"curves: {curves}"
    permuted = relabel(get_task("retrieval"), "permuted")  # values renamed in the prompt: answers follow them
    assert all(evaluate(m, permuted, 8, 0, n_queries=30).accuracy >= 0.8 for m in models)


def test_shipped_gpt3_tiny_learns_retrieval_more_steeply_than_gpt2_tiny():
    """GPT-3-tiny's retrieval accuracy rises by >= 30 points from k=0 to k=8, more steeply than GPT-2-tiny's,
    and follows a permuted mapping: it reads the pairs in the prompt."""
    big, small = shipped("gpt3-tiny"), shipped("gpt2-tiny")
    rise, curves = _retrieval_rise([big, small])
    assert rise[big.name] >= 0.30, f"curves: {curves}"
    assert rise[big.name] > rise[small.name], f"curves: {curves}"
    assert evaluate(big, relabel(get_task("retrieval"), "permuted"), 8, 0, n_queries=30).accuracy >= 0.8


def test_random_seeds_are_stable():
    """Prompts depend on (task, seed, query) only, never on global random state."""
    random.seed(123)
    a = make_prompt(get_task("first_letter"), 2, 3, 1).text
    random.seed(456)
    assert make_prompt(get_task("first_letter"), 2, 3, 1).text == a
