"""Training: the three objectives, the schedule, a tiny run of every family, bad input, a kill and
resume, two data-parallel processes, and (at the end) the shipped models being visibly trained."""
import json
import math
import os
import random
import re
import shlex
import subprocess
import sys
from collections import Counter

import pytest
import torch
from safetensors.torch import load_file

from conftest import ROOT, _sentences, shared_data, shipped
from explorer.errors import ExplorerError
from explorer.families import elmo_network as elmo
from explorer.families import family
from explorer.tokenizers import train_tokenizer
from explorer.training import TrainConfig, train
from explorer.training.loop import Trainer, due, learning_rate
from explorer.training.objectives import BiLM, CausalLM, MaskedLM

SIZES = {
    "elmo": dict(d_model=16, cell=32, n_layers=2),
    "gpt": dict(d_model=32, n_layers=2, n_heads=2, context=32),
    "bert": dict(d_model=32, n_layers=2, n_heads=2, context=32),
    "gpt2": dict(d_model=32, n_layers=2, n_heads=2, context=32),
    "gpt3": dict(d_model=32, n_layers=2, n_heads=2, context=32, window=8),
}
# Subprocesses get one thread each: float sums then come out the same in every run.
ENV = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "sentences.txt"
    path.write_text("\n".join(_sentences(600)) + "\n")
    return path


def tiny(family, corpus, out, tokens=2000, **options):
    return TrainConfig(family=family, corpus=str(corpus), tokens=tokens, out=str(out), name=f"{family}-test",
                       size=SIZES[family], batch_size=8, **options)


def size_arg(family):
    return ",".join(f"{k}={v}" for k, v in SIZES[family].items())


# -- objectives ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def numbered():
    """Lines that say where they are, so pairs and blocks can be checked against the corpus order."""
    return [f"line {i} says {' '.join(random.Random(i).sample(['red', 'blue', 'dog', 'cat', 'tree', 'sky'], 3))}"
            for i in range(300)]


def test_causal_blocks_follow_the_text_and_mapping_documents_take_their_share(numbered):
    tok = train_tokenizer("byte_bpe", numbered, 400, 64)
    lm = CausalLM(tok, numbered, numbered[:20], context=16, seed=0, icl_share=0.1)
    eos = tok.eos_token_id
    assert lm.train_stream[: lm.train_stream.index(eos)] == tok("line 0 says " + numbered[0][len("line 0 says "):])["input_ids"]
    blocks = lm.train_blocks
    assert torch.equal(blocks[:-1, -1], blocks[1:, 0])  # each block's last target is the next block's first input
    assert sum(lm.is_icl(g) for g in range(1000)) == 100  # exactly the share, spread evenly
    icl = [g for g in range(40) if lm.is_icl(g)]
    mapping_line = re.compile(r"^[a-z]+ \d$", re.M)  # icl.TEMPLATE: "key value"
    assert mapping_line.search(tok.decode(lm.sequence(icl[0]).tolist()))
    text = [g for g in range(40) if not lm.is_icl(g)]
    assert not mapping_line.search(tok.decode(lm.sequence(text[0]).tolist()))
    batch = lm.batch(8, 16)
    assert torch.equal(batch.tensors["targets"][:, :-1], batch.tensors["input_ids"][:, 1:])
    again = CausalLM(tok, numbered, numbered[:20], context=16, seed=0, icl_share=0.1).batch(8, 16)
    assert torch.equal(batch.tensors["input_ids"], again.tensors["input_ids"])  # a pure function of seed and position
    other = CausalLM(tok, numbered, numbered[:20], context=16, seed=1, icl_share=0.1).batch(8, 16)
    assert not torch.equal(batch.tensors["input_ids"], other.tensors["input_ids"])


def test_bert_pairs_and_masking_follow_the_recipe(numbered):
    tok = train_tokenizer("wordpiece", numbered, 400, 64)
    mlm = MaskedLM(tok, numbered, numbered[:20], context=48, seed=0)
    batch = mlm.batch(0, 400).tensors
    specials = set(tok.all_special_ids)
    real = batch["attention_mask"].bool()
    labelled = batch["labels"] != -100
    candidates = real & ~torch.isin(torch.where(labelled, batch["labels"], batch["input_ids"]), torch.tensor(list(specials)))
    assert abs(labelled.sum() / candidates.sum() - 0.15) < 0.01
    assert not (labelled & ~candidates).any()  # [CLS], [SEP] and padding are never targets
    replaced = batch["input_ids"][labelled]
    original = batch["labels"][labelled]
    share_mask = (replaced == tok.mask_token_id).float().mean()
    share_kept = (replaced == original).float().mean()
    assert abs(share_mask - 0.8) < 0.04 and abs(share_kept - 0.1) < 0.03
    assert abs(1 - share_mask - share_kept - 0.1) < 0.03  # random tokens
    assert abs(batch["next_sentence_label"].float().mean() - 0.5) < 0.08
    for row in range(40):  # IsNext: B starts on the line after A ends; NotNext: it does not
        ids = torch.where(labelled[row], batch["labels"][row], batch["input_ids"][row])[real[row]].tolist()
        first_sep = ids.index(tok.sep_token_id)
        a, b = tok.decode(ids[1:first_sep]), tok.decode(ids[first_sep + 1:-1])
        assert batch["token_type_ids"][row, first_sep + 1: len(ids)].eq(1).all()
        a_last = int(a.split("line ")[-1].split()[0])
        b_first = int(b.split("line ")[1].split()[0]) if b.startswith("line ") else None
        if b_first is None:
            continue  # B was cut to fit: it starts mid-line
        assert (b_first == a_last + 1) == (batch["next_sentence_label"][row] == 0)


def test_bert_short_sequences_take_the_first_90_percent_of_the_steps(numbered):
    """--short-seq: BERT's two phases (128 then 512 tokens in the paper), with the token budget split to match."""
    tok = train_tokenizer("wordpiece", numbered, 400, 64)
    mlm = MaskedLM(tok, numbered, numbered[:20], context=48, seed=0, short_seq=16)
    assert mlm.mean_tokens == pytest.approx(0.9 * 16 + 0.1 * 48)
    mlm.plan(steps=10, batch_size=4)  # steps 0-8 short, step 9 full
    widths = [mlm.batch(step * 4, 4).tensors["input_ids"].shape[1] for step in range(10)]
    assert widths == [16] * 9 + [48]
    assert all(b.tensors["input_ids"].shape[1] == 48 for b in mlm.eval_batches("valid", 8, 4))  # judged at full length
    with pytest.raises(ExplorerError, match="--short-seq"):
        TrainConfig(family="gpt2", corpus=".", tokens=1000, out="x", short_seq=16)


def test_bilm_targets_are_the_next_and_previous_words_and_chars_match_elmo(numbered):
    lines = numbered[:30]
    tok = train_tokenizer("word", lines, 400, 10_000)
    bilm = BiLM(tok, lines, lines[:3], seed=0, max_chars=50)
    batch = bilm.batch(0, 3)
    names = {i: w for w, i in bilm.words.items()}
    windows = [[names[int(i)] for i in bilm.train_windows[bilm.order[g]][1:-1]] for g in range(3)]
    chars, mask = elmo.char_ids(windows)
    assert torch.equal(batch.tensors["chars"], chars) and torch.equal(batch.tensors["mask"], mask)
    ids = elmo.word_ids(tok, windows)[0]
    fwd, bwd = batch.tensors["forward_targets"][0], batch.tensors["backward_targets"][0]
    n = int(mask[0].sum())
    bos, eos = tok.convert_tokens_to_ids([elmo.BOS, elmo.EOS])
    for t in range(n):
        next_id = ids[t + 1] if t + 1 < n else None
        assert fwd[t] == (-100 if next_id is None or (next_id == bos) else next_id)
        prev_id = ids[t - 1] if t > 0 else None
        assert bwd[t] == (-100 if prev_id is None or (prev_id == eos) else prev_id)
    sentences = windows[0].count(elmo.BOS) + 1
    assert batch.norm["forward"] == batch.norm["backward"] == sum(len(w) - 2 * w.count(elmo.BOS) + w.count(elmo.BOS) + 1
                                                                   for w in windows)
    assert int((fwd != -100).sum()) == len(windows[0]) - 2 * (sentences - 1) + sentences  # words + one end each
    assert all(len(w) <= 64 for w in bilm.train_windows)


def test_learning_rate_warms_up_then_decays_to_its_floor():
    config = TrainConfig(family="gpt2", corpus=".", tokens=1, out=".", lr=1e-3, warmup=0.1, min_lr=0.1)
    rates = [learning_rate(s, 100, config) for s in range(100)]
    assert rates[0] == pytest.approx(1e-4) and rates[9] == pytest.approx(1e-3)
    assert all(a <= b for a, b in zip(rates[:10], rates[1:10]))
    assert all(a >= b for a, b in zip(rates[10:], rates[11:]))
    assert rates[-1] == pytest.approx(1e-4, rel=0.01)


def test_bert_init_std_widens_the_initial_weights_and_is_kept_in_the_config():
    """`--size init_std=0.05` (bench/positional_copy.py's knob) reaches BERT's initializer."""
    from explorer.families import build
    tok = train_tokenizer(family("bert").tokenizer, _sentences(), vocab_size=300, max_len=64)
    size = dict(d_model=64, n_layers=1, n_heads=2, context=64)
    narrow, wide = (build("bert", tok, "b", **size, init_std=s).net for s in (0.02, 0.1))
    spread = [net.bert.encoder.layer[0].attention.self.query.weight.std().item() for net in (narrow, wide)]
    assert spread[1] > 3 * spread[0]
    assert wide.config.initializer_range == 0.1


# -- every family, end to end -------------------------------------------------------------------------

@pytest.mark.parametrize("family", ["elmo", "gpt", "bert", "gpt2", "gpt3"])
def test_every_family_trains_and_saves_a_model_with_its_card_and_curve(family, corpus_file, tmp_path):
    import explorer

    out = train(tiny(family, corpus_file, tmp_path / family), progress=False)
    card = json.loads((out / "card.json").read_text())
    assert card["family"] == family and card["objective"] == {"elmo": "biLM", "bert": "MLM + NSP"}.get(family, "causal LM")
    assert card["corpus"]["manifest"]["sources"][0]["sha256"] == __import__("hashlib").sha256(corpus_file.read_bytes()).hexdigest()
    assert card["corpus"]["model_tokens"]["train"] > 0
    training = card["training"]
    assert training["tokens_seen"] >= 2000 and training["steps"] >= 1
    assert training["icl_share"] == (0.5 if family in ("gpt", "gpt2", "gpt3") else 0.0)
    assert ("--icl-share" in card["command"]) == (family in ("gpt", "gpt2", "gpt3"))
    results = card["results"]
    vocab = card["vocab_size"]
    assert results["val_loss"] < math.log(vocab)  # learned something beyond a uniform guess
    assert results["val_ppl"] == pytest.approx(math.exp(results["val_loss"]))
    if family == "elmo":
        assert {"val_forward_ppl", "val_backward_ppl", "train_forward_ppl"} <= set(results)
    if family == "bert":
        assert {"val_mlm_accuracy", "val_nsp_accuracy"} <= set(results)
    assert card["hardware"]["device"] == "cpu" and card["hardware"]["cpu"]
    assert card["wall_time_s"] > 0 and card["command"].startswith(f"python -m explorer train {family} ")
    assert "git_commit" in card
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert {"step", "tokens", "loss", "lr", "tokens_per_s"} <= set(metrics[0])
    assert [m["step"] for m in metrics] == sorted({m["step"] for m in metrics})
    assert any("val_loss" in m and "val_ppl" in m for m in metrics)
    assert metrics[-1]["tokens"] == training["tokens_seen"]
    assert not (out / "checkpoint").exists()  # the finished model replaces its checkpoint
    model = explorer.load(str(out))
    assert model.family == family and model.trace("The old dog barked .").hidden.shape[0] == model.n_layers + 1


def test_validation_runs_at_every_interval_even_between_logged_steps():
    """1000 steps log every 2nd step; validating every 125th must not wait for a step that is both."""
    steps = [(s, *due(s, 1000, log_every=2, eval_every=125)) for s in range(1, 1001)]
    assert [s for s, log, validate in steps if validate] == list(range(125, 1001, 125))
    assert all(log for s, log, validate in steps if validate)  # each validation is logged, 125 (odd) too
    assert [s for s, log, validate in steps if log and not validate] == [s for s in range(2, 1001, 2) if s % 125]


def test_the_cards_command_reproduces_the_configuration(corpus_file, tmp_path):
    import argparse

    from explorer.training import cli

    config = tiny("gpt2", corpus_file, tmp_path / "m", icl_share=0.2, dropout=0.0, checkpoint_every=3)
    argv = shlex.split(config.command(1))
    assert argv[:4] == ["python", "-m", "explorer", "train"]
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    assert TrainConfig.from_args(parser.parse_args(argv[4:])) == config


# -- bad input ----------------------------------------------------------------------------------------

def test_bad_input_gets_clear_messages_and_nothing_is_overwritten(corpus_file, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n")
    with pytest.raises(ExplorerError, match="empty"):
        train(tiny("gpt2", empty, tmp_path / "a"), progress=False)
    with pytest.raises(ExplorerError, match="smaller than one batch"):
        train(tiny("gpt2", corpus_file, tmp_path / "b", tokens=100), progress=False)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(ExplorerError, match="cannot write"):
        train(tiny("gpt2", corpus_file, blocker / "sub"), progress=False)
    with pytest.raises(ExplorerError, match="n_heads do"):
        TrainConfig(family="elmo", corpus=str(corpus_file), tokens=10, out=str(tmp_path), size=dict(n_heads=2))
    with pytest.raises(ExplorerError, match="unknown family"):
        TrainConfig(family="t5", corpus=str(corpus_file), tokens=10, out=str(tmp_path))
    with pytest.raises(ExplorerError, match="--tokens must be positive"):
        TrainConfig(family="gpt", corpus=str(corpus_file), tokens=0, out=str(tmp_path))

    done = train(tiny("gpt2", corpus_file, tmp_path / "done", tokens=600), progress=False)
    weights = (done / "model.safetensors").read_bytes()
    with pytest.raises(ExplorerError, match="already holds a finished model"):
        train(tiny("gpt2", corpus_file, done, tokens=600), progress=False)
    with pytest.raises(ExplorerError, match="nothing to resume"):
        train(tiny("gpt2", corpus_file, done, tokens=600), resume=True, progress=False)
    assert (done / "model.safetensors").read_bytes() == weights
    with pytest.raises(ExplorerError, match="no checkpoint to resume"):
        train(tiny("gpt2", corpus_file, tmp_path / "fresh"), resume=True, progress=False)


def test_resuming_another_familys_checkpoint_is_refused(corpus_file, tmp_path):
    trainer = Trainer(tiny("gpt2", corpus_file, tmp_path / "run"), progress=False)
    trainer.save_checkpoint()  # an unfinished gpt2 run
    with pytest.raises(ExplorerError, match="holds a gpt2 checkpoint, not bert"):
        train(tiny("bert", corpus_file, tmp_path / "run"), resume=True, progress=False)
    with pytest.raises(ExplorerError, match="unfinished run .* --resume"):
        train(tiny("gpt2", corpus_file, tmp_path / "run"), progress=False)


def test_the_cli_reports_bad_input_without_a_traceback(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    run = subprocess.run([sys.executable, "-m", "explorer", "train", "gpt2", "--corpus", str(empty), "--tokens", "1k",
                          "--out", str(tmp_path / "m")], capture_output=True, text=True, env=ENV, cwd=ROOT)
    assert run.returncode == 2 and run.stderr.startswith("error: ") and "Traceback" not in run.stderr


# -- nothing lost: a kill, then --resume --------------------------------------------------------------

class _Killed(BaseException):
    """Stands in for SIGKILL: the run dies where it is, nothing cleaned up or saved."""


@pytest.fixture
def one_thread():
    """Single-threaded CPU kernels sum in a fixed order, so two runs agree bit for bit."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_a_killed_run_resumes_exactly_where_it_stopped(corpus_file, tmp_path, monkeypatch, one_thread):
    """Killed after a checkpoint and ten more logged steps, resumed, and compared with a run never interrupted:
    equal bit for bit, because everything after the checkpoint is a function of what it holds (weights,
    AdamW moments, step, the RNG state behind dropout; the data is a function of seed and position)."""
    def run(out):
        return TrainConfig(family="gpt2", corpus=str(corpus_file), tokens=32_000, out=str(out), batch_size=8,
                           size=dict(d_model=48, n_layers=2, n_heads=2, context=64), checkpoint_every=10,
                           eval_every=25)

    killed, whole = tmp_path / "killed", tmp_path / "whole"
    save = Trainer.save_checkpoint

    def dies_at_step_40(trainer):
        if trainer.step == 40:
            raise _Killed
        save(trainer)

    monkeypatch.setattr(Trainer, "save_checkpoint", dies_at_step_40)
    with pytest.raises(_Killed):
        train(run(killed), progress=False)
    monkeypatch.undo()
    assert not (killed / "config.json").exists()
    stopped_at = json.loads((killed / "checkpoint" / "latest.json").read_text())["step"]
    logged = [json.loads(line)["step"] for line in (killed / "metrics.jsonl").read_text().splitlines()]
    assert stopped_at == 30 and logged[-1] == 40  # the steps after the checkpoint are logged, and lost

    train(run(killed), resume=True, progress=False)
    train(run(whole), progress=False)

    a, b = load_file(str(killed / "model.safetensors")), load_file(str(whole / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    curve = lambda out: [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]  # noqa: E731
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("tokens_per_s", "elapsed_s")} for r in rows]  # noqa: E731
    assert strip(curve(killed)) == strip(curve(whole))  # the same curve, logged once per step
    card_a, card_b = (json.loads((out / "card.json").read_text()) for out in (killed, whole))
    assert card_a["results"] == card_b["results"] and card_a["training"] == card_b["training"]


# -- data parallel: two gloo processes on CPU ---------------------------------------------------------

def test_two_data_parallel_processes_agree_with_one(corpus_file, tmp_path):
    """ELMo, whose windows hold different numbers of targets in the two halves of a batch: the loss is
    normalised by the global count, so the two processes' summed gradients equal one process's. (Its
    word tokenizer trains deterministically; HF's WordPiece and BPE trainers break ties differently from
    run to run, which would make two separate runs differ before the first step.) Tolerance: gloo adds
    the two halves' float32 gradients in another order than one backward pass does (relative error
    ~1e-7), AdamW carries that on, and the saved float16 weights may then round one unit apart."""
    args = ["elmo", "--corpus", str(corpus_file), "--tokens", "3k", "--size", "d_model=16,cell=32,n_highway=1,char_dim=4",
            "--batch-size", "8", "--dropout", "0", "--no-progress"]
    one, two = tmp_path / "one", tmp_path / "two"
    subprocess.run([sys.executable, "-m", "explorer.training", *args, "--out", str(one)], env=ENV, cwd=ROOT,
                   check=True, capture_output=True)
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "explorer.training", *args, "--out", str(two)], env=ENV, cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    card_one, card_two = (json.loads((out / "card.json").read_text()) for out in (one, two))
    assert card_two["hardware"]["processes"] == 2 and card_two["command"].startswith("torchrun --nproc_per_node 2")
    assert card_two["training"]["tokens_seen"] == card_one["training"]["tokens_seen"]
    for key in ("train_loss", "val_forward_loss", "val_backward_loss"):
        assert card_two["results"][key] == pytest.approx(card_one["results"][key], rel=1e-4)
    a, b = load_file(str(one / "model.safetensors")), load_file(str(two / "model.safetensors"))
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), rtol=2e-3, atol=2e-3), k
    losses = lambda out: [json.loads(line)["loss"] for line in (out / "metrics.jsonl").read_text().splitlines()]  # noqa: E731
    assert losses(two) == pytest.approx(losses(one), rel=1e-4)


# -- the shipped models are visibly trained -----------------------------------------------------------

@pytest.fixture(scope="module")
def held_out(tmp_path_factory):
    """Sentences of the shipped corpus's validation slice (rebuilt from ../shared/data): never trained on."""
    from conftest import SHARED_DATA
    from explorer.data.corpus import build_shipped_corpus

    shared_data("semcor30_wn30", "semcor.data.xml")
    folder = tmp_path_factory.mktemp("shipped-corpus")
    build_shipped_corpus(SHARED_DATA, folder)
    lines = (folder / "valid.txt").read_text().splitlines()
    return [line for line in lines if 8 <= len(line.split()) <= 40 and "<unk>" not in line][:300]


def _unigram_nll(targets: list[int]) -> float:
    """Per-token loss of a unigram model fitted on the very targets it scores: the best any unigram can do."""
    counts = Counter(targets)
    return -sum(c * math.log(c / len(targets)) for c in counts.values()) / len(targets)


@pytest.mark.parametrize("name", ["gpt-tiny", "gpt2-tiny", "gpt3-tiny"])
def test_shipped_causal_models_beat_a_unigram_model_by_far(name, held_out):
    model = shipped(name)
    total, targets = 0.0, []
    for tr in model.trace_batch(held_out, batch_size=32, logits=True):
        ids = tr.input_ids[1:]
        total += torch.nn.functional.cross_entropy(tr.logits[:-1].float(), ids, reduction="sum").item()
        targets += ids.tolist()
    ppl, unigram = math.exp(total / len(targets)), math.exp(_unigram_nll(targets))
    assert ppl < unigram / 2, f"{name}: perplexity {ppl:.0f} vs unigram {unigram:.0f}"


def test_shipped_elmo_beats_a_unigram_model_in_both_directions(held_out):
    model = shipped("elmo-tiny")
    sums, targets = {"forward": 0.0, "backward": 0.0}, {"forward": [], "backward": []}
    for tr in model.trace_batch(held_out, batch_size=32, logits=True):
        ids = tr.input_ids
        for direction, logits, gold in (("forward", tr.logits[0, :-1], ids[1:]), ("backward", tr.logits[1, 1:], ids[:-1])):
            sums[direction] += torch.nn.functional.cross_entropy(logits.float(), gold, reduction="sum").item()
            targets[direction] += gold.tolist()
    for direction in sums:
        ppl = math.exp(sums[direction] / len(targets[direction]))
        unigram = math.exp(_unigram_nll(targets[direction]))
        assert ppl < unigram, f"{direction} perplexity {ppl:.0f} vs unigram {unigram:.0f}"


def test_shipped_bert_predicts_masked_tokens_better_than_a_unigram_model(held_out):
    model = shipped("bert-tiny")
    tok, rng = model.tokenizer, random.Random(0)
    enc = tok(held_out, truncation=True, max_length=model.max_len, padding=True, return_tensors="pt",
              return_special_tokens_mask=True)
    candidates = (enc["attention_mask"] == 1) & (enc["special_tokens_mask"] == 0)
    chosen = torch.zeros_like(candidates)
    for row, positions in enumerate(candidates):
        idx = positions.nonzero().flatten().tolist()
        chosen[row, rng.sample(idx, max(1, round(0.15 * len(idx))))] = True
    inputs = enc["input_ids"].masked_fill(chosen, tok.mask_token_id)
    with torch.no_grad():
        out = model.net(input_ids=inputs, attention_mask=enc["attention_mask"], token_type_ids=enc["token_type_ids"])
    gold = enc["input_ids"][chosen]
    accuracy = (out.prediction_logits[chosen].argmax(-1) == gold).float().mean().item()
    majority = Counter(gold.tolist()).most_common(1)[0][1] / len(gold)  # a unigram model's best guess, every time
    assert accuracy > majority, f"masked-token accuracy {accuracy:.3f} vs unigram {majority:.3f}"


def test_shipped_bert_fills_the_dog_slot_with_a_noun():
    nouns = _ewt_nouns()
    model = shipped("bert-tiny")
    tok = model.tokenizer
    enc = tok("the [MASK] barked .", return_tensors="pt")
    with torch.no_grad():
        logits = model.net(**enc).prediction_logits[0]
    position = enc["input_ids"][0].tolist().index(tok.mask_token_id)
    top5 = tok.convert_ids_to_tokens(logits[position].topk(5).indices.tolist())
    assert any(t in nouns for t in top5), f"top 5 for 'the [MASK] barked .': {top5}"


def _ewt_nouns() -> set[str]:
    """Words that EWT's training treebank tags NOUN more often than anything else (a gold noun lexicon)."""
    tags: dict[str, Counter] = {}
    for line in shared_data("ud_english_ewt", "en_ewt-ud-train.conllu").read_text().splitlines():
        cols = line.split("\t")
        if len(cols) == 10 and cols[0].isdigit():
            tags.setdefault(cols[1].lower(), Counter())[cols[3]] += 1
    return {w for w, c in tags.items() if c.most_common(1)[0][0] == "NOUN"}
