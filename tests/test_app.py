"""Every page of the Streamlit app through AppTest: inputs set, widgets used, results shown, never a traceback.

Models: small random checkpoints of several families saved to a temporary folder (as if the user had trained
them), and the real MiniLM loaded by path, so the tests run before and after the shipped models exist.
"""
import io
import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from explorer import jobs, zoo
from explorer import features
from explorer.cli import main
from tests.conftest import make_tiny, wait_for

APP = str(Path(__file__).resolve().parent.parent / "app.py")
BAD_TEXTS = {"empty": "", "control": "the dog\x07 barked", "long": "the dog barked . " * 600,
             "emoji": "the 😀 dog barked 🐕 ."}


@pytest.fixture(scope="module")
def user_models(tmp_path_factory):
    """A user model folder holding tiny bert, gpt2 and elmo checkpoints; returns their paths by family."""
    home = tmp_path_factory.mktemp("lt_home")
    folders = {}
    for family in ("bert", "gpt2", "elmo"):
        folders[family] = str(make_tiny(family).save(home / "models" / f"{family}-small", {"note": "test model"}))
    return home / "models", folders


@pytest.fixture
def app(user_models, monkeypatch):
    """An AppTest of app.py that sees only the test models; call it with the models to pick."""
    models_dir, folders = user_models
    monkeypatch.setattr(zoo, "USER_MODELS", models_dir)
    monkeypatch.setattr(features, "CACHE_DIR", models_dir.parent / "cache" / "features")

    def start(*families, page=None, extra=()):
        at = AppTest.from_file(APP, default_timeout=120)
        at.session_state["models"] = [folders[f] for f in families] + list(extra)
        if extra:
            at.session_state["loaded_models"] = list(extra)
        at.run()
        if page:
            at.switch_page(f"explorer/ui/{page}.py").run()
        return at

    start.folders = folders
    return start


def assert_clean(at):
    """No exception element and no error box on the page."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def errors(at) -> str:
    return " ".join(e.value for e in at.error)


# -- Journey -----------------------------------------------------------------------------------
def test_journey_shows_the_five_models_then_smollm2_and_the_comparison_table(app):
    at = app("bert")
    assert_clean(at)
    assert at.title[0].value == "Linguistic Travelling"
    subheaders = [s.value for s in at.subheader]
    assert all(name in subheaders for name in ("ELMo", "GPT", "BERT", "GPT-2", "GPT-3", "SmolLM2"))
    table = at.table[0].value
    assert list(table.index) == ["ELMo", "GPT", "BERT", "GPT-2", "GPT-3", "SmolLM2"]  # GPT-3's open descendant last
    assert {"architecture", "objective", "how used", "gain (paper)"} <= set(table.columns)
    measured = table["tiny here: gain over scratch, n = 1k"]  # from the shipped transfer results
    assert measured["BERT"].startswith("sst2: features") and "upos:" in measured["BERT"]
    assert "zeroshot" in measured["GPT-2"] and "fewshot k = 4" in measured["SmolLM2"]  # prompting needs no training set
    assert any(b.proto.label == "CSV data" for b in at.get("download_button"))


def test_journey_shows_the_shipped_models_cards_and_measurements(app, tmp_path, monkeypatch):
    cards = {"gpt2-tiny": dict(objective="causal LM", params=1_234_567, training=dict(tokens_seen=2_000_000),
                               wall_time_s=600, results=dict(val_ppl=87.25)),
             "bert-tiny": dict(objective="MLM + NSP", params=2_000_000, training=dict(tokens_seen=2_000_000),
                               wall_time_s=900, results=dict(val_ppl=120.0, val_mlm_accuracy=0.31,
                                                             val_nsp_accuracy=0.74))}
    for name, card in cards.items():
        make_tiny(name.split("-")[0]).save(tmp_path / name, card)
    monkeypatch.setattr(zoo, "TRAINED", tmp_path)
    at = AppTest.from_file(APP, default_timeout=120).run()  # no choice made: the shipped models are picked
    assert_clean(at)
    assert at.sidebar.multiselect(key="models").value == ["bert-tiny", "gpt2-tiny"]  # in TINY order
    shown = {m.label: m.value for m in at.metric}
    assert shown["next-token perplexity"] == "87.2" and shown["masked-token accuracy"] == "31.0%"
    assert shown["parameters"] in ("1.23M", "2M") and shown["training time"] in ("10 min", "15 min")
    table = at.table[0].value
    assert table.loc["GPT-2", "tiny here: held-out text"] == "next-token perplexity: 87.2"
    assert table.loc["BERT", "tiny here: parameters"] == "2M" and table.loc["ELMo", "tiny here: parameters"] == "—"
    at.button(key="journey-measure").click().run()
    assert_clean(at)
    table = at.table[0].value
    assert table.loc["GPT-2", "tiny here: POS, best layer"].endswith(")")  # e.g. "41% (layer 2)"
    assert "(layer" in table.loc["BERT", "tiny here: word sense F1, best layer"]
    assert "→" in table.loc["GPT-2", "tiny here: few-shot retrieval, k = 0 → 8"]
    assert table.loc["BERT", "tiny here: few-shot retrieval, k = 0 → 8"] == "—"  # BERT cannot be prompted
    again = AppTest.from_file(APP, default_timeout=120).run()  # a new session reads the saved measurements
    assert "tiny here: POS, best layer" in again.table[0].value.columns


def test_sidebar_picker_lists_user_models_and_keeps_the_choice_across_pages(app):
    at = app("bert", "gpt2")
    picker = at.sidebar.multiselect(key="models")
    assert {"bert-small", "gpt2-small", "elmo-small"} <= set(picker.options)
    assert picker.value == [app.folders["bert"], app.folders["gpt2"]]
    picker.set_value([app.folders["elmo"]]).run()
    at.switch_page("explorer/ui/compare.py").run()
    assert at.sidebar.multiselect(key="models").value == [app.folders["elmo"]]


def test_models_named_in_the_address_are_picked(app):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["models"] = f"{app.folders['gpt2']},/no/such/folder,{app.folders['elmo']}"
    at.run()
    assert_clean(at)
    assert at.sidebar.multiselect(key="models").value == [app.folders["gpt2"], app.folders["elmo"]]


# -- Compare -----------------------------------------------------------------------------------
def test_compare_shows_every_model_side_by_side(app):
    at = app("bert", "gpt2", "elmo", page="compare")
    assert_clean(at)
    at.text_input(key="compare-text").set_value("The gardeners painted the ___ in 1999 .").run()
    assert_clean(at)
    tokens = at.dataframe[0].value.set_index("word")
    assert list(tokens.columns) == ["bert-small (bert)", "gpt2-small (gpt2)", "elmo-small (elmo)"]
    assert "[CLS]" in tokens.loc["(special tokens)", "bert-small (bert)"]  # BERT's WordPiece input
    assert tokens.loc["gardeners", "elmo-small (elmo)"] == "g a r d e n e r s"  # ELMo reads characters
    titles = [c.proto.spec for c in at.get("plotly_chart")]
    assert len(titles) == 8  # tokens, 3 models' predictions, two logit lenses, ELMo's two sides, BERT's input sum
    assert "both sides (masked LM)" in titles[1] and "left context only" in titles[2]
    assert "both sides (two LMs)" in titles[3]
    assert "logit lens" in titles[4] and "logit lens" in titles[5]
    assert "from the left, the right, and both" in titles[6]
    assert "␣" in titles[0]  # GPT-2's space mark, shown readably
    assert "P(B follows A)" in at.metric[0].label and at.metric[0].value.endswith("%")


def test_compare_model_without_prediction_head_is_explained_not_an_error(app, minilm_path):
    at = app("bert", page="compare", extra=[str(minilm_path)])
    assert_clean(at)
    shown = " ".join(w.value for w in at.warning)
    assert "**all-MiniLM-L6-v2**" in shown and "no prediction head" in shown
    assert at.get("plotly_chart")  # the other model's results still show


def test_compare_without_a_blank_asks_for_one(app):
    at = app("bert", "gpt2", page="compare")
    at.text_input(key="compare-text").set_value("the dog barked .").run()
    assert_clean(at)
    assert "exactly one blank" in at.warning[0].value
    at.text_input(key="compare-text").set_value("the ___ barked at the [MASK] .").run()
    assert "found 2" in at.warning[0].value


@pytest.mark.parametrize("kind", BAD_TEXTS)
def test_compare_bad_text_gives_a_readable_message(app, kind):
    at = app("bert", "elmo", page="compare")
    at.text_input(key="compare-text").set_value(BAD_TEXTS[kind]).run()
    assert not at.exception
    if kind == "empty":
        assert "empty" in errors(at)
    elif kind == "control":
        assert "control character" in errors(at)
    elif kind == "long":
        assert not at.error and any("context" in w.value for w in at.warning)
    else:
        assert not at.error


def test_compare_without_models_asks_for_one(app):
    at = app(page="compare")
    assert_clean(at)
    assert "Choose a model" in at.info[0].value


# -- Attention ---------------------------------------------------------------------------------
def test_attention_every_view_draws_for_a_transformer(app):
    at = app("gpt2", "elmo", page="attention")
    assert_clean(at)
    assert at.selectbox(key="attention-model").options == ["gpt2-small"]  # ELMo has no attention
    at.text_input(key="attention-text").set_value("The cat sat on the mat .").run()
    titles = {}
    for view in ("Head view", "Model view", "One head", "Rollout and flow", "Head scores"):
        at.segmented_control(key="attention-view").set_value(view).run()
        assert_clean(at)
        titles[view] = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "layer 1" in titles["Head view"] and "every head" in titles["Model view"]
    assert "attention rollout" in titles["Rollout and flow"] and "attention flow" in titles["Rollout and flow"]
    assert "previous_token per head" in titles["Head scores"]


def test_attention_bert_pair_and_one_head(app):
    at = app("bert", page="attention")
    at.text_input(key="attention-pair").set_value("It was tired .").run()
    at.segmented_control(key="attention-view").set_value("One head").run()
    at.select_slider(key="attention-one-layer").set_value(1).run()
    assert_clean(at)
    assert "layer 2, head 1" in at.get("plotly_chart")[0].proto.spec
    assert any(b.proto.label == "CSV data" for b in at.get("download_button"))


def test_attention_with_only_elmo_explains_why(app):
    at = app("elmo", page="attention")
    assert_clean(at)
    assert "needs a transformer" in at.warning[0].value


def test_attention_flow_without_outputs_asks_for_one(app):
    at = app("gpt2", page="attention")
    at.segmented_control(key="attention-view").set_value("Rollout and flow").run()
    at.multiselect(key="attention-flow-outputs").set_value([]).run()
    assert_clean(at)
    assert "at least one output token" in at.info[0].value


@pytest.mark.parametrize("kind", BAD_TEXTS)
def test_attention_bad_text_gives_a_readable_message(app, kind):
    at = app("gpt2", page="attention")
    at.text_input(key="attention-text").set_value(BAD_TEXTS[kind]).run()
    assert not at.exception
    expected = {"empty": "empty", "control": "control character"}.get(kind)
    assert (expected in errors(at)) if expected else not at.error


# -- Attribution -------------------------------------------------------------------------------
def test_attribution_explains_every_family(app):
    at = app("bert", "gpt2", "elmo", page="attribution")
    at.number_input(key="attribution-steps").set_value(8).run()
    assert_clean(at)
    assert len(at.get("plotly_chart")) == 3
    labels = [m.label for m in at.metric]
    assert labels.count("convergence delta") == 3 and labels.count("probability") == 3
    at.radio(key="attribution-method").set_value("gradient_x_input").run()
    assert_clean(at)
    assert "convergence delta" not in [m.label for m in at.metric]


def test_attribution_unknown_target_is_explained_per_model(app):
    at = app("gpt2", page="attribution")
    at.text_input(key="attribution-target").set_value("zzzzqqq").run()
    assert_clean(at)
    assert "not one token" in at.warning[0].value


def test_attribution_of_a_runaway_input_is_refused_before_any_work(app):
    at = app("elmo", page="attribution")  # no context limit: all 10k words would reach the network
    at.text_input(key="attribution-text").set_value("the ___ sat . " + "and then it sat again . " * 2000).run()
    assert not at.exception
    assert "the work allowed" in at.warning[0].value and "tokens fit" in at.warning[0].value


# -- Layer travel ------------------------------------------------------------------------------
def test_layer_travel_animates_a_word_through_the_layers(app):
    at = app("bert", "elmo", page="layers")
    assert_clean(at)
    charts = [c.proto.spec for c in at.get("plotly_chart")]
    assert len(charts) == 3  # the travel, its separation, and every picked model's separation
    assert "'bank' by sense" in charts[0] and '"frames"' in charts[0]  # one frame per layer
    assert "separate the labels" in charts[1]
    at.radio(key="layers-source").set_value("pos").run()
    assert_clean(at)
    assert "by part of speech" in at.get("plotly_chart")[0].proto.spec


def test_layer_travel_own_sentences_and_their_mistakes(app):
    at = app("gpt2", page="layers")
    at.radio(key="layers-source").set_value("own").run()
    assert_clean(at)
    assert "in your sentences" in at.get("plotly_chart")[0].proto.spec
    at.text_input(key="layers-word").set_value("cat").run()
    assert not at.exception and "does not contain 'cat'" in errors(at)
    at.text_input(key="layers-word").set_value("bank").run()
    at.text_area(key="layers-sentences").set_value("the bank\x07 is here\nbank one\nbank two\nbank three").run()
    assert not at.exception and "control character" in errors(at)
    at.text_area(key="layers-sentences").set_value("").run()
    assert not at.exception and "at least four sentences" in errors(at)
    at.text_area(key="layers-sentences").set_value("a | the bank one\nb | bank two\nbank three\nbank four").run()
    assert_clean(at)
    assert "2 of 4 lines have a `label |`" in " ".join(w.value for w in at.warning)
    assert "nan" not in at.get("plotly_chart")[0].proto.spec


# -- Probing lab -------------------------------------------------------------------------------
def _run_probes(at):
    at.button(key="FormSubmitter:probing-run-Run the probes").click().run()


def test_probing_pos_on_the_demo_set_with_controls_and_scalar_mix(app):
    at = app("gpt2", page="probing")
    assert_clean(at)
    _run_probes(at)
    assert_clean(at)
    titles = [c.proto.spec for c in at.get("plotly_chart")]
    assert len(titles) == 3 and "accuracy by layer" in titles[0] and "selectivity" in titles[1]
    assert "scalar-mix layer weights" in titles[2]
    results = at.dataframe[0].value
    accuracy = results[results.metric == "accuracy"]
    assert list(accuracy.layer) == [0, 1, 2] and accuracy.value.between(0, 1).all()
    assert {"majority_baseline", "word_type_baseline", "selectivity", "mix_weight"} <= set(results.metric)
    assert any(b.proto.label == "Configuration (JSON)" for b in at.get("download_button"))


def test_probing_pos_with_a_random_init_control_model_and_conditional_bits(app):
    at = app("gpt2", page="probing")
    at.checkbox(key="probing-mix").uncheck()
    at.checkbox(key="probing-control-model").check()
    at.checkbox(key="probing-conditional").check()
    _run_probes(at)
    assert_clean(at)
    results = at.dataframe[0].value
    assert len(set(results.model)) == 2 and any("random init" in m for m in results.model)
    assert {"conditional_bits", "best_layer", "below_word_type", "accuracy_ci_low"} <= set(results.metric)
    assert "flag" in at.dataframe[1].value.columns
    assert any("chosen on dev" in m.value for m in at.markdown)


def test_probing_lab_gives_what_the_probe_command_writes(app, tmp_path):
    """One runner behind both: the page's table and configuration are the command's results.csv and config.json."""
    at = app("bert", page="probing")
    at.segmented_control(key="probing-task").set_value("wsd").run()
    at.checkbox(key="probing-mix").uncheck()
    at.checkbox(key="probing-control-model").check()
    _run_probes(at)
    assert_clean(at)
    out = tmp_path / "wsd"
    assert main(["probe", "wsd", "--model", app.folders["bert"], "--control-model", "--no-mix", "--out", str(out),
                 "--no-png"]) == 0
    page = at.session_state["probing-result"]
    shown = pd.read_csv(io.StringIO(at.dataframe[0].value.to_csv(index=False)))  # as the command saves it
    pd.testing.assert_frame_equal(shown, pd.read_csv(out / "results.csv"))
    written = json.loads((out / "config.json").read_text())
    assert [m["name"] for m in written["models"]] == ["bert-small", "bert-small (random init)"]
    assert json.loads(json.dumps(page.config, default=str)) == {
        k: v for k, v in written.items() if k not in ("command", "figures", "png")}


@pytest.mark.parametrize("task, metric", [("wsd", "f1"), ("wic", "accuracy")])
def test_probing_word_senses_on_the_demo_set(app, task, metric):
    at = app("bert", page="probing")
    at.segmented_control(key="probing-task").set_value(task).run()
    _run_probes(at)
    assert_clean(at)
    assert at.selectbox(key="probing-metric").value == metric
    results = at.dataframe[0].value
    assert len(results[results.metric == metric].layer.dropna()) == 3  # layers 0..2 of the small BERT
    assert f"{metric} by layer" in at.get("plotly_chart")[0].proto.spec


@pytest.mark.parametrize("files, message", [
    ([], "no train file uploaded"),
    ([("train.conllu", b"1\tThe\tthe\tDET\n")], "line"),  # a malformed CoNLL-U line is named
    ([("train.json", b"{}")], ""),
    ([("a.conllu", b""), ("b.conllu", b"")], "upload one data file"),
], ids=["none", "malformed-conllu", "wrong-format", "two-data-files"])
def test_probing_bad_uploads_give_a_readable_message(app, files, message):
    at = app("gpt2", page="probing")
    at.radio(key="probing-source-pos").set_value("upload").run()
    for name, content in files:
        at.file_uploader(key="probing-upload-pos-train").upload(name, content)
    at.file_uploader(key="probing-upload-pos-test").upload("test.txt", b"The/DET dog/NOUN barked/VERB ./PUNCT\n")
    _run_probes(at)
    assert not at.exception
    assert at.error and message in errors(at)


def test_probing_reads_the_columns_the_user_picks(app):
    """A CoNLL-2000-like upload with the tag in the third column: the picked columns are read, not word/tag."""
    rows = ["The B-NP DET", "dog I-NP NOUN", "barks B-VP VERB", ". O PUNCT", "",
            "A B-NP DET", "cat I-NP NOUN", "sleeps B-VP VERB", ". O PUNCT", ""]
    at = app("gpt2", page="probing")
    at.radio(key="probing-source-pos").set_value("upload").run()
    at.checkbox(key="probing-columns").check().run()
    at.number_input(key="probing-tag-col").set_value(2)
    for role, copies in (("train", 10), ("test", 3)):
        at.file_uploader(key=f"probing-upload-pos-{role}").upload(f"{role}.txt", "\n".join(rows * copies).encode())
    _run_probes(at)
    assert_clean(at)
    results = at.dataframe[0].value
    assert set(results.task) == {"pos/upos"}  # named from the tags read: the third column's, not B-NP/I-NP
    assert results[results.metric == "accuracy"].value.max() > 0.9  # DET NOUN VERB PUNCT: trivially learnt


# -- Use & gain --------------------------------------------------------------------------------
@pytest.fixture
def gain(app, tmp_path, monkeypatch):
    """The Use & gain page with sweeps written under tmp_path."""
    from explorer import paths

    monkeypatch.setattr(paths, "SWEEPS", tmp_path / "sweeps")
    return lambda *families: app(*families, page="use_gain")


def _sweep(at, modes, task="sst2", upload=None, sizes="100"):
    at.selectbox(key="gain-task").set_value(task)
    if upload:
        at.file_uploader(key="gain-upload").upload(*upload)
    at.multiselect(key="gain-modes").set_value(modes)
    at.text_input(key="gain-n").set_value(sizes)
    at.button(key="FormSubmitter:gain-new-Start the sweep").click().run()


def test_use_gain_shows_the_measured_curves_table_and_gains(gain):
    at = gain("bert")
    assert_clean(at)
    assert at.title[0].value == "Use & gain"
    usage = at.dataframe[0].value
    assert "Feature-based" in " ".join(usage["how its paper used it"]) and "zeroshot" not in usage["modes here"][0]
    table = at.dataframe[1].value
    assert {"bert-tiny", "elmo-tiny", "-"} <= set(table.model) and "1000" in map(str, table.columns)
    assert at.radio(key="shipped-task").options == ["sst2", "upos"]
    at.radio(key="shipped-task").set_value("upos").run()
    assert_clean(at)
    assert "word type" in " ".join(at.dataframe[1].value.method)


def test_use_gain_runs_a_sweep_in_the_background_to_its_results(gain, tmp_path, sentences):
    at = gain("bert")
    csv = "text,label\n" + "".join(f'"{s}",{int("happy" in s)}\n' for s in sentences[:60])
    _sweep(at, ["baselines"], task="file", upload=("toy.csv", csv.encode()), sizes="10,all")
    assert_clean(at)
    out = next((tmp_path / "sweeps").iterdir())
    assert jobs._PROCESSES.pop(str(out)).wait() == 0
    at.run()
    assert_clean(at)
    assert at.get("progress")[0].proto.text == "6 of 6 cells"  # 2 sizes x 3 seeds
    assert "bag of words + logistic regression" in " ".join(at.dataframe[1].value.method)


@pytest.mark.parametrize("modes, task, upload, sizes, message", [
    (["zeroshot"], "sst2", None, "100", "cannot be used zeroshot"),
    (["features"], "sst2", None, "ten", "whole numbers"),
    (["baselines"], "file", ("reviews.csv", bytes(range(256)) * 40), "100", "reviews.csv is not UTF-8 text"),
    (["baselines"], "file", ("reviews.csv", b"sentence,tag\na,b\n"), "100", "reviews.csv"),
    (["baselines"], "file", None, "100", "upload a task file"),
], ids=["bert-zeroshot", "bad-sizes", "binary", "wrong-columns", "no-file"])
def test_use_gain_refuses_bad_sweeps_before_starting(gain, tmp_path, modes, task, upload, sizes, message):
    at = gain("bert")
    _sweep(at, modes, task, upload, sizes)
    assert not at.exception
    assert message in errors(at)
    assert not (tmp_path / "sweeps").exists()


# -- Models ------------------------------------------------------------------------------------
def test_models_page_loads_a_real_checkpoint_by_path_and_adds_it_to_the_picker(app, minilm_path):
    at = app("bert", page="models")
    assert_clean(at)
    at.text_input(key="model-source").set_value(str(minilm_path))
    at.button[0].click().run()
    assert_clean(at)
    assert "Loaded" in at.success[0].value and "BERT" in at.success[0].value
    picker = at.sidebar.multiselect(key="models")
    assert "all-MiniLM-L6-v2" in picker.options and str(minilm_path) in picker.value  # named by its card
    names = list(at.dataframe[0].value["name"])
    assert "bert-small" in names and "all-MiniLM-L6-v2" in names


@pytest.mark.parametrize("source, message", [
    ("", "the model id or folder is empty: give a Hugging Face id or a folder's path"),
    ("/no/such/folder", "does not exist"),
    ("no such model! 😀", "does not exist"),
    ("x" * 10_000, "could not read 'xxxxxxxx"),
    ("gpt2\x00", "the model id or folder contains a control character"),
], ids=["empty", "missing-folder", "not-an-id", "10k-chars", "control-char"])
def test_models_page_bad_source_gives_a_readable_message(app, source, message):
    at = app("bert", page="models")
    at.text_input(key="model-source").set_value(source)
    at.button[0].click().run()
    assert not at.exception
    assert message in errors(at) and len(errors(at)) < 1000


def test_models_page_hub_id_offline_is_explained_at_once(app):
    at = app("bert", page="models")
    at.text_input(key="model-source").set_value("nobody-has/this-model-xyz")
    at.button[0].click().run()
    assert not at.exception
    # offline (conftest sets HF_HUB_OFFLINE): explained at once, not after the hub client's half-minute of retries
    assert "neither reach the Hugging Face" in errors(at) and "--local-dir" in errors(at)


def test_models_page_wrong_file_format_gives_a_readable_message(app, tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    at = app("bert", page="models")
    at.text_input(key="model-source").set_value(str(tmp_path))
    at.button[0].click().run()
    assert not at.exception
    assert "not valid JSON" in errors(at)


# -- Few-shot lab ------------------------------------------------------------------------------
def test_fewshot_prompt_answers_from_every_causal_model_and_explains_the_others(app):
    at = app("gpt2", "bert", page="fewshot")
    assert_clean(at)
    assert "bert-small cannot continue a prompt" in at.info[0].value
    at.selectbox(key="fewshot-task").set_value("animal_object").run()
    at.slider(key="fewshot-k").set_value(2).run()
    assert_clean(at)
    prompt = at.code[0].value
    assert prompt.count(" ->") == 3 and prompt.endswith("->")  # two demonstrations and the query
    assert [m.label for m in at.metric] == ["answer"]  # one causal model answered
    assert at.metric[0].value in ("animal", "object")


def test_fewshot_accuracy_curve_and_induction_heads(app):
    at = app("gpt2", page="fewshot")
    at.selectbox(key="fewshot-task").set_value("retrieval").run()
    at.multiselect(key="fewshot-ks").set_value([0, 2])
    at.slider(key="fewshot-seeds").set_value(1)
    at.slider(key="fewshot-queries").set_value(5)
    at.button(key="FormSubmitter:fewshot-curve-Run").click().run()
    assert_clean(at)
    charts = at.get("plotly_chart")
    assert len(charts) == 3  # accuracy curve, induction loss, induction heads
    assert "accuracy against the number of shots" in charts[0].proto.spec
    answers, induction = at.dataframe[0].value, at.dataframe[1].value
    assert sorted(answers["k"].unique()) == [0, 2] and len(answers) == 2 * 5
    assert "icl_score" in induction.columns and len(induction) == 1
    at.selectbox(key="fewshot-task").set_value("sentiment").run()  # another task: the retrieval curve goes
    assert not at.exception
    assert not any("accuracy against the number of shots" in c.proto.spec for c in at.get("plotly_chart"))


def test_fewshot_bad_template_and_too_many_shots_give_messages(app):
    at = app("gpt2", page="fewshot")
    at.selectbox(key="fewshot-task").set_value("sentiment").run()
    at.slider(key="fewshot-k").set_value(16).run()
    assert not at.exception and "context" in errors(at)
    at.text_input(key="fewshot-in-sentiment").set_value("no placeholder").run()
    assert not at.exception and "{input}" in errors(at)
    at.text_input(key="fewshot-in-sentiment").set_value("{input} ->").run()
    at.text_input(key="fewshot-instr-sentiment").set_value("Say\x1b[31m it").run()
    assert not at.exception and "the instruction contains a control character" in errors(at)
    at.text_input(key="fewshot-instr-sentiment").set_value("Is it nice? 😀 " * 700).run()  # 10k characters
    assert not at.exception and "context" in errors(at)


@pytest.mark.parametrize("name, content, message", [
    ("task.csv", b"question,answer\nx,y\n", "lacks the column"),
    ("task.json", b"{not json", "not valid JSON"),
    ("task.txt", b"hello", "neither .csv nor .json"),
    ("task.csv", "input,output\n😀,a\n😀,b\n".encode(), "repeats the input"),
    ("task.csv", b"input,output\n", "0 example"),
    ("task.csv", b"\xff\xfe\x00bad", "task.csv is not UTF-8 text"),
], ids=["missing-columns", "bad-json", "wrong-format", "duplicate", "empty", "binary"])
def test_fewshot_bad_task_file_gives_a_readable_message(app, name, content, message):
    at = app("gpt2", page="fewshot")
    at.selectbox(key="fewshot-task").set_value("your own file…").run()
    at.file_uploader(key="fewshot-upload").upload(name, content).run()
    assert not at.exception
    assert message in errors(at)


def test_fewshot_user_task_file_is_used(app):
    at = app("gpt2", page="fewshot")
    at.selectbox(key="fewshot-task").set_value("your own file…").run()
    rows = "".join(f"{w},{w[0]}\n" for w in ["apple", "avocado", "banana", "berry", "cherry", "cocoa"])
    at.file_uploader(key="fewshot-upload").upload("letters.csv", ("input,output\n" + rows).encode()).run()
    at.slider(key="fewshot-k").set_value(2).run()
    assert_clean(at)
    assert "**letters**" in " ".join(m.value for m in at.markdown)
    assert at.metric[0].value in ("a", "b", "c")


# -- Train -------------------------------------------------------------------------------------
def _wait_for(at, condition):
    """Rerun the page until ``condition(at)`` holds (the run's process writes on its own)."""
    def shown():
        at.run()
        return condition(at)

    wait_for(shown, f"the page to show it; it shows {_badge(at)!r}, errors {errors(at)}")
    return at


def _badge(at) -> str:
    return " ".join(m.value for m in at.markdown if "-badge[" in m.value)


def _start(at, name, corpus):
    at.selectbox(key="train-family").set_value("gpt2")
    at.text_input(key="train-name").set_value(name)
    at.text_input(key="train-corpus").set_value(str(corpus))
    at.number_input(key="train-batch").set_value(8)
    at.number_input(key="train-every").set_value(3)
    return at.button(key="FormSubmitter:train-new-Start training").click().run()


def test_train_starts_stops_resumes_and_the_model_joins_the_picker(app, fake_train, tmp_path, sentences):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(sentences) + "\n")
    at = app("bert", page="train")
    assert_clean(at)
    _start(at, "trained-here", corpus)
    assert_clean(at)
    assert "running" in _badge(at)
    _wait_for(at, lambda a: any(m.label == "step" and m.value == "3" for m in a.metric))
    at.button(key="train-stop").click().run()
    assert "stopped" in _badge(at)
    assert at.get("plotly_chart")  # the loss curve so far
    at.button(key="train-resume").click().run()
    assert "running" in _badge(at)
    out = zoo.USER_MODELS / "trained-here"
    jobs._PROCESSES[str(out)].wait()
    _wait_for(at, lambda a: "finished" in _badge(a))
    assert_clean(at)
    assert "trained-here" in at.sidebar.multiselect(key="models").options


def test_train_failed_run_shows_its_reason(app, fake_train, tmp_path, sentences):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(sentences) + "\n")
    at = _start(app("bert", page="train"), "fails", corpus)
    jobs._PROCESSES[str(zoo.USER_MODELS / "fails")].wait()
    at.run()
    assert "failed" in _badge(at) and "The run failed: the corpus is empty" in errors(at)
    assert not any("Traceback" in c.value for c in at.code)


@pytest.mark.parametrize("name, corpus, message", [
    ("ok", "", "no corpus"),
    ("ok", "/no/such/corpus.txt", "does not exist"),
    ("bad name 😀", "CORPUS", "cannot name a model folder"),
    ("", "CORPUS", "cannot name a model folder"),
    ("ok", "x\x01y", "control character"),
], ids=["no-corpus", "missing-corpus", "emoji-name", "empty-name", "control-char"])
def test_train_bad_input_gives_a_readable_message(app, tmp_path, name, corpus, message):
    (tmp_path / "c.txt").write_text("one line\nanother line\n")
    at = app("bert", page="train")
    at.text_input(key="train-name").set_value(name)
    at.text_input(key="train-corpus").set_value(corpus.replace("CORPUS", str(tmp_path / "c.txt")))
    at.button(key="FormSubmitter:train-new-Start training").click().run()
    assert not at.exception
    assert message in errors(at)


@pytest.mark.parametrize("content, message", [(b"", "is empty"),
                                              (b"\xff\xfe\xfa\n\xff\n", "corpus.txt is not UTF-8 text"),
                                              (b"one line only", "at least 2")], ids=["empty", "binary", "one-line"])
def test_train_bad_upload_gives_a_readable_message(app, content, message):
    at = app("bert", page="train")
    at.file_uploader(key="train-upload").upload("corpus.txt", content)
    at.button(key="FormSubmitter:train-new-Start training").click().run()
    assert not at.exception
    assert message in errors(at)


class _Upload:
    """What st.file_uploader hands a page: the user's file name and its bytes."""

    def __init__(self, name, content):
        self.name, self._content = name, content

    def getvalue(self):
        return self._content


def test_binary_uploads_are_refused_naming_the_users_file(tmp_path):
    import os

    from explorer import ExplorerError
    from explorer.ui import probing, train

    junk = _Upload("my-treebank.conllu", os.urandom(1 << 20))
    with pytest.raises(ExplorerError, match=r"my-treebank\.conllu is not UTF-8 text") as caught:
        probing.stored_upload("pos", "train", [junk])
    assert str(tmp_path.parent) not in str(caught.value)
    with pytest.raises(ExplorerError, match=r"corpus\.txt is not UTF-8 text"):
        train.corpus_source("", _Upload("corpus.txt", os.urandom(1 << 20)))


def test_corpus_too_short_to_validate_is_refused_with_a_reason():
    from explorer import ExplorerError
    from explorer.training.objectives import CausalLM

    tokenizer = make_tiny("gpt2").tokenizer
    with pytest.raises(ExplorerError, match="validation lines hold .* fewer than one training sequence"):
        CausalLM(tokenizer, ["the dog barked at the cat ."] * 200, ["a dog ."], context=64, seed=0, icl_share=0.0)
