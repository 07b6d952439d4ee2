"""explorer.transfer on small slices: usage modes, the scratch twin, checkpoints, refusals and resumable curves."""
import json

import pandas as pd
import pytest
import torch

import explorer
from conftest import _sentences, make_tiny, shared_data
from explorer import ExplorerError, transfer
from explorer.data.conllu import DEMO_POS_TEST, DEMO_POS_TRAIN, read_pos_file
from explorer.transfer import curve, network, results
from explorer.transfer.shift import shift
from explorer.transfer.data import Row, TaskData, read_table

FAST = transfer.TrainSettings(epochs=1, batch_size=16, head_epochs=3)


def sentiment(n_train=48, n_test=16) -> TaskData:
    """A sentence task the test tokenizers know: is the adjective 'happy' or 'quiet'?"""
    rows = [Row(s, "1" if "happy" in s else "0") for s in _sentences(400, seed=1)]
    return TaskData("toy", "sentence", rows[:n_train], rows[n_train:n_train + n_test], {"0": "no", "1": "yes"})


def pairs() -> TaskData:
    rows = [Row(a, str(int(a.split()[2] == b.split()[2])), b) for a, b in zip(_sentences(60, 2), _sentences(60, 3))]
    return TaskData("toy-pairs", "sentence", rows[:40], rows[40:], {"0": "no", "1": "yes"})


def pos() -> TaskData:
    as_rows = lambda sents: [Row(tuple(s.words), tuple(s.upos)) for s in sents]
    return TaskData("demo-pos", "token", as_rows(read_pos_file(DEMO_POS_TRAIN, 40)),
                    as_rows(read_pos_file(DEMO_POS_TEST, 15)))


@pytest.mark.parametrize("family", ["bert", "gpt2"])
def test_scratch_twin_has_the_same_architecture_and_budget(family, tmp_path):
    model = make_tiny(family)
    model.save(tmp_path / "saved")  # saving records float16 in the shared config: the twin must stay float32
    vocab = model.vocab_size
    twin = network.fresh_twin(model, "twin")
    assert next(twin.net.parameters()).dtype == torch.float32
    shapes = lambda m: {k: v.shape for k, v in m.net.state_dict().items()}
    assert shapes(twin) == shapes(model) and twin.tokenizer.get_vocab() == model.tokenizer.get_vocab()
    assert not torch.equal(next(twin.net.parameters()), next(model.net.parameters()))
    task = sentiment()
    tuned, fresh = transfer.finetune(model, task, 32, 0, FAST), transfer.scratch(model, task, 32, 0, FAST)
    budget = lambda r: (r.params, r.epochs, r.steps, r.lr, r.lm_weight, r.n_train)
    assert budget(tuned) == budget(fresh) and tuned.steps == 2
    gain = results.gains(transfer.table([tuned, fresh]))
    assert gain.gain_finetune.item() == pytest.approx(tuned.accuracy - fresh.accuracy)
    assert model.vocab_size == vocab  # the caller's model is left as it was (task tokens went to a copy)


def test_finetuned_checkpoint_reloads_and_scores_the_same(tmp_path):
    task = sentiment()
    result = transfer.finetune(make_tiny("gpt2"), task, 32, 1, FAST, save=tmp_path / "ft")
    assert result.checkpoint == str(tmp_path / "ft")
    model = explorer.load(tmp_path / "ft")  # an ordinary model for every other page
    assert model.card["finetuned_from"] == "gpt2-test"
    assert {k: model.card["transfer"][k] for k in ("task", "mode", "n", "seed")} == dict(
        task="toy", mode="finetune", n=32, seed=1)
    assert model.card["transfer"]["score"] == result.accuracy
    clf = transfer.load_classifier(tmp_path / "ft")
    assert clf.accuracy(task.test)[0] == result.accuracy


def test_gpt_input_transformation_puts_delimiter_and_extract_in_the_input():
    model = make_tiny("gpt")
    clf = network.classifier(network.fresh_twin(model, "t"), ["0", "1"], "sentence")
    batch = clf.encode(pairs().train[:2], lm=True)
    start, delim, extract = clf.model.tokenizer.convert_tokens_to_ids(list(network.TASK_TOKENS))
    ids = batch.inputs["input_ids"][0][batch.inputs["attention_mask"][0] == 1].tolist()
    assert ids[0] == start and ids[-1] == extract and ids.count(delim) == 1
    assert batch.pool[0].nonzero().item() == len(ids) - 1  # the head reads the extract token
    assert batch.lm_labels is not None  # the auxiliary LM loss
    assert transfer.finetune(model, pairs(), 16, 0, FAST).lm_weight == 0.5
    no_lm = transfer.TrainSettings(epochs=1, lm_weight=0)
    assert transfer.finetune(model, pairs(), 16, 0, no_lm).lm_weight == 0


@pytest.mark.parametrize("family", ["elmo", "bert"])
def test_feature_mix_weights_sum_to_one(family):
    result = transfer.features(make_tiny(family), pos(), None, 0, FAST)
    assert result.mode == "features" and len(result.mix_weights) == make_tiny(family).n_layers + 1
    assert sum(result.mix_weights) == pytest.approx(1)
    assert 0 <= result.accuracy <= 1 and result.n_test > 100


def test_elmo_finetunes_its_mix_and_tags_words():
    result = transfer.finetune(make_tiny("elmo"), pos(), 20, 0, FAST)
    assert sum(result.mix_weights) == pytest.approx(1) and result.n_test > 100


def test_unsupported_modes_are_refused_with_the_reason():
    with pytest.raises(ExplorerError, match="masked words"):
        transfer.zeroshot(make_tiny("bert"), sentiment())
    with pytest.raises(ExplorerError, match="ELMo's language models"):
        transfer.fewshot(make_tiny("elmo"), sentiment(), 2, 0)
    with pytest.raises(ExplorerError, match="token tasks"):
        transfer.zeroshot(make_tiny("gpt2"), pos())
    short = TaskData("short", "sentence", [Row("a happy dog", "1"), Row("a quiet dog", "0")] * 3,
                     [Row("the happy child", "1"), Row("the quiet child", "0")], {"0": "no", "1": "yes"})
    result = transfer.fewshot(make_tiny("gpt2"), short, 1, 0)
    assert result.n_train == 1 and 0 <= result.accuracy <= 1


def test_bad_input_is_refused_clearly(tmp_path):
    (tmp_path / "cols.csv").write_text("sentence,tag\na,b\n")
    with pytest.raises(ExplorerError, match="needs columns text"):
        read_table(tmp_path / "cols.csv")
    (tmp_path / "empty.csv").write_text("text,label\n")
    with pytest.raises(ExplorerError, match="no rows"):
        read_table(tmp_path / "empty.csv")
    (tmp_path / "bin.tsv").write_bytes(b"text\tlabel\n\0\1\2")
    with pytest.raises(ExplorerError, match="binary"):
        read_table(tmp_path / "bin.tsv")
    one = TaskData("one", "sentence", [Row("a b", "x")] * 5, [Row("a", "x")])
    with pytest.raises(ExplorerError, match="single label"):
        transfer.baselines(one, None, 0)
    (tmp_path / "pairs.csv").write_text("text,text_b,label\n" + "".join(
        f"{a},{b},{i % 2}\n" for i, (a, b) in enumerate(zip(_sentences(20, 4), _sentences(20, 5)))))
    task = transfer.read_task(tmp_path / "pairs.csv")
    assert task.train[0].text_b and len(task.test) == 4 and "held out" in task.note
    big = transfer.baselines(task, 1000, 0)
    assert "used all" in big[0].note and big[1].method.startswith("bag of words")


def test_nan_loss_stops_and_saves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(network.Classifier, "reps", lambda self, b: (torch.full(
        (len(b.labels), 3, 32), float("nan")), None))
    with pytest.raises(ExplorerError, match="nan at step 1"):
        transfer.finetune(make_tiny("bert"), sentiment(), 16, 0, FAST, save=tmp_path / "ft")
    assert not (tmp_path / "ft").exists()


def test_long_text_is_truncated_and_counted():
    task = sentiment()
    task.test = [Row(" ".join(["the happy dog"] * 40), "1")] + task.test[:3]
    assert transfer.finetune(make_tiny("bert"), task, 16, 0, FAST).truncated == 1


def test_rerun_skips_finished_cells(tmp_path, monkeypatch):
    task, model = sentiment(), make_tiny("gpt2")
    out = tmp_path / "curve"
    df = curve.run_curve(task, [model], ["baselines", "features", "zeroshot"], [16, None], [0, 1], out, FAST,
                         progress=False)
    assert len(df) == 2 * 4 + 4 + 1  # two baselines per (n, seed) cell, four feature cells, one zero-shot
    lines = (out / results.RESULTS).read_text()
    monkeypatch.setattr(transfer.modes, "features", lambda *a, **k: pytest.fail("a finished cell was rerun"))
    with open(out / results.RESULTS, "a") as f:
        f.write('{"model": "gpt2-te')  # a cell killed mid-write
    curve.run_curve(task, [model], ["baselines", "features", "zeroshot"], [16, None], [0, 1], out, FAST,
                    progress=False)
    assert (out / results.RESULTS).read_text() == lines
    assert json.loads(lines.splitlines()[0])["mode"] == "baselines"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ExplorerError, match="holds other files"):
        curve.run_curve(task, [model], ["baselines"], [16], [0], tmp_path / "other", progress=False)
    with pytest.raises(ExplorerError, match="cannot be used zeroshot"):
        curve.run_curve(task, [make_tiny("bert")], ["zeroshot"], [16], [0], tmp_path / "new", progress=False)


def test_cli_runs_baselines_on_sst2(tmp_path, capsys):
    shared_data("sst2")
    from explorer.cli import main

    assert main(["transfer", "--task", "sst2", "--mode", "baselines", "--n", "100", "--seeds", "1",
                 "--test-limit", "200", "--out", str(tmp_path / "o")]) == 0
    assert "bag of words" in capsys.readouterr().out


def test_shift_is_one_and_zero_for_the_same_model_and_moves_after_finetuning(tmp_path):
    model = make_tiny("bert")
    texts = [r.text for r in sentiment().test]
    same = shift(model, model, texts)
    assert same.layers.cka.to_numpy() == pytest.approx(1.0) and same.heads.change.max() == pytest.approx(0.0)
    transfer.finetune(model, sentiment(), 48, 0, transfer.TrainSettings(epochs=3, batch_size=8, lr=1e-3),
                      save=tmp_path / "ft")
    moved = shift(model, explorer.load(tmp_path / "ft"), texts)
    assert len(moved.layers) == model.n_layers + 1 and len(moved.heads) == model.n_layers * model.n_heads
    assert moved.layers.cka.iloc[-1] < 0.999 and moved.heads.change.iloc[0] > 0.001
    assert moved.heads.change.is_monotonic_decreasing and moved.heads["head"].min() == 1  # most changed first, from 1
    with pytest.raises(ExplorerError, match="same architecture"):
        shift(model, make_tiny("gpt2"), texts)


def test_headline_gives_each_models_gain_over_its_scratch_twin():
    cell = lambda mode, acc, seed=0: dict(model="m", mode=mode, method="x", task="sst2", n=1000, seed=seed,
                                          accuracy=acc)
    df = pd.DataFrame([cell("finetune", 0.7), cell("finetune", 0.8, 1), cell("scratch", 0.6), cell("features", 0.65),
                       dict(cell("baselines", 0.5), model="")])
    assert results.headline(df) == {"m": "sst2: features 65.0 % (+5.0), finetune 75.0 % (+15.0), scratch 60.0 %"}
    assert results.headline(df, n=100) == {}
    prompted = pd.DataFrame([dict(cell("zeroshot", 0.55), n=0), dict(cell("fewshot", 0.6), n=4)])
    assert results.headline(prompted) == {"m": "sst2: zeroshot 55.0 %, fewshot k = 4 60.0 %"}


def _sentiment_csv(path, rows=60):
    path.write_text("text,label\n" + "".join(f'"{s}",{int("happy" in s)}\n' for s in _sentences(rows, seed=1)))
    return path


def test_a_background_sweep_reports_progress_and_finishes(tmp_path):
    """`python -m explorer transfer` as the Use & gain page starts it: planned cells counted, results on disk."""
    from explorer import jobs
    from explorer.transfer import sweeps

    out = sweeps.launch(tmp_path / "sweep", str(_sentiment_csv(tmp_path / "toy.csv")), [], ["baselines"],
                        [10, None], seeds=2)
    assert jobs._PROCESSES.pop(str(out)).wait() == 0, sweeps.log(out)
    assert sweeps.status(out) == "finished" and sweeps.sweeps(tmp_path) == [out]
    done, planned, left = results.progress_of(out)
    assert (done, planned, left) == (4, 4, 0)
    assert set(pd.read_json(out / results.RESULTS, lines=True).n.fillna(-1)) == {10, -1}


def test_a_failed_sweep_says_why(tmp_path):
    from explorer import jobs
    from explorer.transfer import sweeps

    (tmp_path / "empty.csv").write_text("text,label\n")
    out = sweeps.launch(tmp_path / "sweep", str(tmp_path / "empty.csv"), [], ["baselines"], [10], seeds=1)
    assert jobs._PROCESSES.pop(str(out)).wait() == 2
    assert sweeps.status(out) == "failed"
    assert "Traceback" not in sweeps.log(out) and "no rows" in jobs.failure_reason(sweeps.log(out))
