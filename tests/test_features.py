"""Fast feature extraction: hidden states without the heads, token-budget batches, ELMo's char-CNN, devices, and
the cache sharded over torchrun processes."""
import copy
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT, _sentences, make_tiny

from explorer import features
from explorer.features import _batches, extract_features
from explorer.errors import ExplorerError
from explorer.distributed import pick_device
from explorer.families.elmo_network import char_ids
from explorer.zoo import load

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


@pytest.mark.parametrize("name", ["gpt-tiny", "gpt2-tiny", "gpt3-tiny"])
def test_fused_gelu_gives_the_hidden_states_of_the_network_as_transformers_builds_it(name):
    """The GPT families run torch's fused tanh GELU instead of transformers' op-by-op one: same states."""
    from transformers import AutoModel
    from transformers.activations import NewGELUActivation

    model = load(name)
    assert not any(isinstance(m, NewGELUActivation) for m in model.net.modules())
    as_built = AutoModel.from_pretrained(ROOT / "trained" / name, dtype=torch.float32).eval()
    assert any(isinstance(m, NewGELUActivation) for m in as_built.modules())
    for trace in model.trace_batch(SENTENCES[:2]):
        with torch.no_grad():
            expected = torch.stack(as_built(input_ids=trace.input_ids[None], output_hidden_states=True).hidden_states)
        torch.testing.assert_close(trace.hidden, expected[:, 0], atol=1e-5, rtol=1e-5)


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


# -- sharded over torchrun processes (gloo on CPU) ----------------------------------------------------------------

# Subprocesses get one thread each, so one process and two compute every batch alike.
ENV = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
CACHE_FILES = ("vectors.npy", "offsets.npy", "missing.npy", "meta.json")
# A torchrun worker whose rank is BROKEN_RANK never marks its shard done, as if it died while tracing, and
# notes each shard it was asked to trace in BROKEN_LOG.
BROKEN = """import os, sys
from explorer import features
from explorer.cli import main
if os.environ["RANK"] == os.environ["BROKEN_RANK"]:
    features._trace_shard = lambda *args: open(os.environ["BROKEN_LOG"], "a").write(args[-2].name + "\\n")
sys.exit(main(sys.argv[1:]))
"""


def run_features(setup, cache, world=1, broken=None):
    """`explorer features` on the setup's model and data: alone, or in ``world`` torchrun processes (with one
    broken rank, where given)."""
    launcher = [sys.executable] + (["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={world}"]
                                   if world > 1 else [])
    target = [str(setup["script"])] if broken is not None else ["-m", "explorer"]
    args = ["features", "--model", str(setup["model"]), "--data", str(setup["data"]), "--cache", str(cache),
            "--max-tokens", "64"]  # a dozen batches, so every rank has several
    env = ENV | {"BROKEN_RANK": str(broken), "BROKEN_LOG": str(cache.parent / "broken.log")}
    return subprocess.run([*launcher, *target, *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=600)  # a guard against a hang only


def cache_bytes(folder):
    return {name: (folder / name).read_bytes() for name in CACHE_FILES}


@pytest.fixture(scope="module")
def shard_setup(tmp_path_factory):
    """A saved tiny BERT, a CoNLL-U file (one sentence longer than its 64-token context, so some words are missing)
    and the cache one process builds from it."""
    folder = tmp_path_factory.mktemp("sharded")
    model = copy.deepcopy(make_tiny("bert")).save(folder / "bert", card={})
    sentences = SENTENCES + [s.split() for s in _sentences(40)] + [("a long sentence " * 30).split()]
    data = folder / "data.conllu"
    data.write_text("\n".join("\n".join(f"{i}\t{w}\t_\tX\t_\t_\t_\t_\t_\t_" for i, w in enumerate(s, 1)) + "\n"
                              for s in sentences))
    script = folder / "broken.py"
    script.write_text(BROKEN)
    setup = dict(model=model, data=data, script=script, sentences=sentences)
    done = run_features(setup, folder / "one")
    assert done.returncode == 0, done.stderr[-3000:]
    (one,) = (folder / "one").glob("*/*")
    setup["one"] = one
    return setup


def sharded_folder(setup, cache):
    """Where ``cache`` builds the setup's features, and its torchrun jobs' shared partial folder."""
    one = setup["one"]
    directory = cache / one.parent.name / one.name
    return directory, directory.parent / f".partial-{one.name}"


@pytest.fixture(scope="module")
def failed_cache(shard_setup, tmp_path_factory):
    """A cache left by a two-process job whose rank 1 died: rank 0's shard done, no meta.json."""
    cache = tmp_path_factory.mktemp("failed") / "cache"
    run = run_features(shard_setup, cache, world=2, broken=1)
    assert run.returncode != 0 and "shard(s) [1] of 2 did not finish" in run.stderr
    assert (cache.parent / "broken.log").read_text() == "shard-1-of-2.npy\n"
    return cache


def test_two_gloo_processes_give_the_cache_of_one_byte_for_byte(shard_setup, tmp_path, monkeypatch):
    """Each rank traces every other batch of the same batches into the one array; a partial folder another number
    of processes left (here: 3, garbage vectors and every row missing) is not mixed in. The probes then open the
    cache without tracing again."""
    one = shard_setup["one"]
    directory, partial = sharded_folder(shard_setup, tmp_path)
    partial.mkdir(parents=True)
    shape = np.load(one / "vectors.npy", mmap_mode="r").shape
    np.save(partial / "vectors.npy", np.ones(shape, dtype=np.float16))
    np.save(partial / "shard-0-of-3.npy", np.ones(shape[1], dtype=bool))
    run = run_features(shard_setup, tmp_path, world=2)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"in {directory}" in run.stdout and run.stdout.count(" words x ") == 1  # printed by rank 0 only
    assert cache_bytes(directory) == cache_bytes(one) and not partial.exists()
    assert sorted(p.name for p in directory.iterdir()) == sorted(CACHE_FILES)
    assert json.loads((one / "meta.json").read_text())["missing"] > 0  # merged from the long sentence's shard
    monkeypatch.setattr(features, "_build", lambda *args: pytest.fail("the cache was built again"))
    feats = extract_features(load(shard_setup["model"]), shard_setup["sentences"], cache_dir=tmp_path)
    assert feats.directory == directory


def test_a_dead_shard_leaves_the_cache_incomplete_and_a_rerun_finishes_it(shard_setup, failed_cache, tmp_path):
    """No meta.json after the failure; the rerun's rank 0 (broken now) finds its shard done and is never asked to
    trace, rank 1 traces its own: the bytes of one process."""
    cache = tmp_path / "cache"
    shutil.copytree(failed_cache, cache)
    directory, partial = sharded_folder(shard_setup, cache)
    assert not directory.exists() and not (partial / "meta.json").exists()
    assert (partial / "shard-0-of-2.npy").exists() and not (partial / "shard-1-of-2.npy").exists()
    run = run_features(shard_setup, cache, world=2, broken=0)
    assert run.returncode == 0, run.stderr[-3000:]
    assert not (tmp_path / "broken.log").exists()
    assert cache_bytes(directory) == cache_bytes(shard_setup["one"]) and not partial.exists()


def test_one_process_finishes_the_shards_a_torchrun_job_left(shard_setup, failed_cache, tmp_path):
    cache = tmp_path / "cache"
    shutil.copytree(failed_cache, cache)
    directory, partial = sharded_folder(shard_setup, cache)
    run = run_features(shard_setup, cache)
    assert run.returncode == 0, run.stderr[-3000:]
    assert cache_bytes(directory) == cache_bytes(shard_setup["one"]) and not partial.exists()
    assert [p.name for p in directory.parent.iterdir()] == [directory.name]  # no temporary folder left behind
