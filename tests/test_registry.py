"""The family registry: a new family is one file plus one registry line, and nothing else names families."""
import re
from pathlib import Path

import pytest

from explorer import cli, zoo
from explorer.errors import ExplorerError
from explorer.families import REGISTRY, build, family, gpt2
from explorer.families.hf import from_config
from explorer.families.spec import OBJECTIVES, STORY_KEYS, USAGES, Family

from conftest import make_tiny

ROOT = Path(__file__).resolve().parent.parent


def _toy_build(tokenizer, name, d_model, n_layers, n_heads, context):
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(vocab_size=len(tokenizer), n_positions=context, n_embd=d_model, n_layer=n_layers,
                        n_head=n_heads)
    return from_config(GPT2LMHeadModel, config, tokenizer, name, TOY)


TOY = Family(name="toy", display="Toy LM", objective="causal", tokenizer="byte_bpe", build=_toy_build,
             tiny=dict(d_model=32, n_layers=2, n_heads=2, context=64), quick=dict(d_model=16, n_layers=1, n_heads=1,
                                                                                  context=32),
             story=gpt2.FAMILY.story | dict(model="Toy", date="2030-01", params=1e6))


@pytest.fixture
def toy_registered(monkeypatch):
    monkeypatch.setitem(REGISTRY, "toy", TOY)
    monkeypatch.setitem(zoo.TINY, TOY.tiny_name, dict(family="toy", size=TOY.tiny))


@pytest.mark.parametrize("spec", REGISTRY.values(), ids=list(REGISTRY))
def test_every_spec_is_complete(spec):
    assert spec.objective in OBJECTIVES and set(spec.usages) <= set(USAGES)
    assert set(STORY_KEYS) <= set(spec.story)
    assert set(spec.quick) == set(spec.tiny)  # the Train page's quick size is a whole size
    assert spec.causal or spec.not_prompted  # a family that cannot be prompted says why


def test_a_new_family_trains_traces_and_appears_in_the_cli(toy_registered, capsys):
    model = build("toy", make_tiny("gpt2").tokenizer, "toy-test")
    assert model.spec is TOY and model.causal and model.family == "toy"
    assert model.trace("a dog barked").attentions.shape[:2] == (2, 2)
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    assert "toy" in capsys.readouterr().out


def test_a_new_family_appears_in_the_train_page_picker(toy_registered):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("explorer/ui/train.py").run()
    assert "Toy LM" in at.selectbox(key="train-family").options


def test_unknown_family_is_named():
    with pytest.raises(ExplorerError, match="unknown family 'bart'.*gpt2"):
        family("bart")


def test_gpt2_file_is_the_family():
    assert REGISTRY["gpt2"] is gpt2.FAMILY


def test_no_code_outside_the_families_compares_family_names():
    names = "|".join(REGISTRY)
    compare = re.compile(rf"""(==|!=|\bin)\s*\(?["']({names})["']|["']({names})["']\s*(==|!=)|family\s*(==|!=)""")
    offenders = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
                 for path in [*ROOT.glob("explorer/**/*.py"), ROOT / "app.py"] if "families" not in path.parts
                 for n, line in enumerate(path.read_text().splitlines(), 1) if compare.search(line)]
    assert not offenders, "\n".join(offenders)


def test_no_analysis_runs_a_network_around_its_model():
    """Analyses and transfer go through the Model's entry points (trace, scores, attend, prefix, word_log_probs,
    network_inputs, hidden_states...), never its network, and never build a family's inputs themselves."""
    reach = re.compile(r"\.net\b|\bchar_ids\b|\belmo_network\b|\._encode\b|\bHFModel\b")
    offenders = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
                 for path in [*ROOT.glob("explorer/analysis/*.py"), *ROOT.glob("explorer/transfer/*.py")]
                 for n, line in enumerate(path.read_text().splitlines(), 1) if reach.search(line)]
    assert not offenders, "\n".join(offenders)
