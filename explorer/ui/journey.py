"""Journey (home): the five models as a timeline, the shipped tiny models' cards, and a comparison table."""
import json

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from explorer import zoo
from explorer.analysis import probing, prompting, wsd
from explorer.checkpoints import read_card
from explorer.data import conllu
from explorer.data import wsd as sense_files
from explorer.data.tasks import get_task
from explorer.ui import common
from explorer.zoo import TINY, TRAINED

# What the original papers built and reported (the numbers are the papers' own).
HISTORY = [
    dict(family="elmo", model="ELMo", date="2018-02", params=93.6e6,
         paper="Peters et al., Deep contextualized word representations",
         short_arch="char-CNN + 2-layer biLSTM", short_objective="two LMs: left-to-right and right-to-left",
         short_gain="6 tasks' state of the art; SQuAD F1 81.1 → 85.8",
         architecture="Character CNN + highway, then a 2-layer biLSTM with residual connections; separate forward "
                      "and backward language models sharing one softmax",
         objective="biLM: predict the next word left-to-right and the previous word right-to-left",
         data="1B Word Benchmark (~800M tokens)",
         used="Feature-based: frozen, a task-specific learned mix of its layers is fed to each task's own model",
         gain="State of the art on six tasks, e.g. SQuAD F1 81.1 → 85.8, SRL 81.4 → 84.6, NER 90.2 → 92.2"),
    dict(family="gpt", model="GPT", date="2018-06", params=117e6,
         paper="Radford et al., Improving Language Understanding by Generative Pre-Training",
         short_arch="12-layer Transformer decoder", short_objective="the next token",
         short_gain="best on 9 of 12 tasks; GLUE 68.9 → 72.8",
         architecture="12-layer Transformer decoder (masked self-attention), post-LayerNorm, learned positions, BPE",
         objective="Causal language modelling: predict the next token",
         data="BooksCorpus (~7,000 books)",
         used="Fine-tuned: the whole network trained on each task, inputs rewritten with delimiter tokens",
         gain="Best on 9 of 12 tasks: +8.9 points on story cloze, +5.7 on RACE, GLUE 72.8 (from 68.9)"),
    dict(family="bert", model="BERT", date="2018-10", params=110e6,
         paper="Devlin et al., BERT: Pre-training of Deep Bidirectional Transformers",
         short_arch="Transformer encoder, reads both ways", short_objective="masked words + next sentence",
         short_gain="GLUE 80.5 (+7.7); SQuAD v1.1 F1 93.2",
         architecture="Transformer encoder (12 layers base, 24 large); token + segment + position embeddings; "
                      "[CLS] and [SEP]; WordPiece",
         objective="Masked LM (15 % of tokens: 80 % [MASK], 10 % random, 10 % kept) + next-sentence prediction",
         data="BooksCorpus + English Wikipedia (3.3B words)",
         used="Fine-tuned with one small output layer per task",
         gain="GLUE 80.5 (+7.7 points), MultiNLI 86.7 (+4.6), SQuAD v1.1 F1 93.2, v2.0 F1 83.1 (+5.1)"),
    dict(family="gpt2", model="GPT-2", date="2019-02", params=1.5e9,
         paper="Radford et al., Language Models are Unsupervised Multitask Learners",
         short_arch="a bigger decoder, pre-LayerNorm", short_objective="the next token, on 40 GB of web text",
         short_gain="zero-shot state of the art on 7 of 8 LM tests",
         architecture="Transformer decoder, pre-LayerNorm + final LayerNorm, 48 layers at its largest, byte-level "
                      "BPE, 1,024-token context",
         objective="Causal language modelling on much more and cleaner web text",
         data="WebText (40 GB, 8M documents)",
         used="Zero-shot: prompted with the task in plain text, no task training at all",
         gain="Zero-shot state of the art on 7 of 8 LM benchmarks; LAMBADA perplexity 99.8 → 8.6"),
    dict(family="gpt3", model="GPT-3", date="2020-05", params=175e9,
         paper="Brown et al., Language Models are Few-Shot Learners",
         short_arch="96 layers, dense + local attention", short_objective="the next token, on 300B tokens",
         short_gain="learns a task from examples in its prompt",
         architecture="GPT-2's decoder scaled to 96 layers, alternating dense and locally banded sparse attention, "
                      "2,048-token context",
         objective="Causal language modelling",
         data="300B tokens: filtered Common Crawl, WebText2, books, Wikipedia",
         used="Few-shot in context: a handful of examples in the prompt, no gradient update",
         gain="In-context learning that grows with scale: LAMBADA 86.4 % few-shot, TriviaQA 71.2 %"),
]
USE_STYLE = {"elmo": "feature-based", "gpt": "fine-tuned", "bert": "fine-tuned", "gpt2": "prompted (zero-shot)",
             "gpt3": "prompted (few-shot)"}


def render():
    st.title("Linguistic Travelling")
    st.markdown("Five models that changed how machines read, from **ELMo** to **GPT-3**, each rebuilt here as a "
                "tiny model trained on **one corpus with one token budget**, so that what differs between them is "
                "the architecture and the objective. Pick models in the sidebar and travel through their layers.")
    timeline()
    scale_figure()
    shipped_cards()
    comparison_table()


def timeline():
    st.header("The journey", divider="gray")
    for col, step in zip(st.columns(len(HISTORY)), HISTORY):
        with col.container(border=True, height="stretch"):
            st.caption(f"{step['date']} · {_human(step['params'])} parameters")
            st.subheader(step["model"], anchor=False)
            st.badge(USE_STYLE[step["family"]], color="blue")
            st.markdown(f":material/account_tree: {step['short_arch']}  \n"
                        f":material/school: {step['short_objective']}  \n"
                        f":material/trending_up: {step['short_gain']}")
            st.caption(step["paper"])
    st.caption(":material/account_tree: architecture · :material/school: what it learned to predict · "
               ":material/trending_up: what it gained. The full story is in the table at the bottom.")


def scale_figure():
    history = pd.DataFrame(HISTORY)
    fig = go.Figure(go.Scatter(
        x=pd.to_datetime(history["date"]), y=history["params"], mode="lines+markers+text", text=history["model"],
        textposition="top left", marker=dict(size=14, color="#2f6f8f"), line=dict(color="#9bb8c6", dash="dot"),
        hovertemplate="%{text}: %{y:.3s} parameters<extra></extra>"))
    fig.update_layout(title="Parameters of the original models (log scale)", height=320, showlegend=False,
                      yaxis=dict(type="log", title="parameters", tickvals=[1e8, 1e9, 1e10, 1e11],
                                 ticktext=["100M", "1B", "10B", "100B"]),
                      margin=dict(t=50, b=30, l=60, r=30), template="plotly_white")
    common.chart(fig, key="journey-scale", data=history[["model", "date", "params"]], name="original-model-sizes")


def shipped_cards():
    st.header("The tiny models shipped here", divider="gray")
    trained = shipped()
    if not trained:
        st.info("The five tiny models are not trained yet. Train one with `python -m explorer train FAMILY` "
                "(or on the Train page); meanwhile load any checkpoint on the Models page.", icon=":material/info:")
        return
    st.caption("Trained here on one corpus with one token budget; every number below is this tool's own "
               "measurement, read from each model's card.")
    for col, (name, card) in zip(st.columns(len(trained)), trained.items()):
        with col.container(border=True, height="stretch"):
            st.subheader(name, anchor=False)
            st.caption(card.get("objective", ""))
            for metric, value in card_metrics(card).items():
                st.metric(metric, value)
            with st.expander("Full card"):
                st.json(card, expanded=False)


def shipped() -> dict[str, dict]:
    """The shipped models that are trained, with their cards."""
    return {name: read_card(TRAINED / name) for name in TINY if (TRAINED / name / "config.json").exists()}


def card_metrics(card: dict) -> dict[str, str]:
    """A shipped model's headline numbers: size, training, and how well it predicts held-out text."""
    results, training = card.get("results", {}), card.get("training", {})
    found = {"parameters": card.get("params"), "tokens seen": training.get("tokens_seen"),
             "training time": card.get("wall_time_s")}
    if "val_forward_ppl" in results:  # ELMo: one language model each way
        found["forward perplexity"] = f"{results['val_forward_ppl']:.1f}"
        found["backward perplexity"] = f"{results['val_backward_ppl']:.1f}"
    elif "val_mlm_accuracy" in results:  # BERT: masked tokens and next sentences
        found["masked-token accuracy"] = f"{results['val_mlm_accuracy']:.1%}"
        found["next-sentence accuracy"] = f"{results.get('val_nsp_accuracy', float('nan')):.1%}"
    elif "val_ppl" in results:
        found["next-token perplexity"] = f"{results['val_ppl']:.1f}"
    return {k: _show(k, v) for k, v in found.items() if v is not None}


def _show(metric: str, value) -> str:
    if isinstance(value, str):
        return value
    if metric == "training time":
        return f"{value / 60:.0f} min"
    return _human(value)


def _human(count: float) -> str:
    """93.6M, 1.5B, 175B."""
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if count >= size:
            return f"{count / size:.3g}{unit}"
    return f"{count:g}"


def comparison_table():
    st.header("Side by side", divider="gray")
    cards, measured = shipped(), measurements()
    rows = []
    for step in HISTORY:
        name = f"{step['family']}-tiny"
        card = card_metrics(cards.get(name, {}))
        held_out = next((f"{k}: {v}" for k, v in card.items() if "perplexity" in k or "accuracy" in k), "—")
        rows.append({"model": step["model"], "year": step["date"][:4], "architecture": step["architecture"],
                     "objective": step["objective"], "data": step["data"], "how used": step["used"],
                     "gain (paper)": step["gain"], "original size": _human(step["params"]),
                     "tiny here: parameters": card.get("parameters", "—"), "tiny here: held-out text": held_out}
                    | {f"tiny here: {k}": v for k, v in measured.get(name, {}).get("shown", {}).items()})
    table = pd.DataFrame(rows).fillna("—")
    st.table(table.set_index("model"))
    st.caption("Paper columns quote the original papers; the *tiny here* columns are this tool's own measurements "
               "on its shipped models: held-out text never seen in training, and the demo sets.")
    cols = st.columns([1, 3])
    with cols[0]:
        common.downloads("journey-table", data=table, name="five-models")
    if cards and cols[1].button("Measure the tiny models on the demo sets (a minute or two)",
                                icon=":material/speed:", key="journey-measure"):
        with common.guard("Measuring the tiny models"):
            measure_all(list(cards))
            st.rerun()


# -- the tool's own measurements of the shipped models, kept on disk beside the feature cache ----------------
def measurements_file():
    return zoo.USER_MODELS.parent / "cache" / "journey_measurements.json"


def measurements() -> dict:
    """Saved measurements of the shipped models, those of checkpoints since changed left out."""
    path = measurements_file()
    saved = json.loads(path.read_text()) if path.exists() else {}
    return {name: m for name, m in saved.items() if m.get("version") == common.checkpoint_version(name)}


def measure_all(names: list[str]) -> None:
    bar = st.progress(0.0, text="Measuring…")
    saved = measurements()
    for i, name in enumerate(names):
        bar.progress(i / len(names), text=f"{name}: part of speech, word sense, few-shot retrieval…")
        saved[name] = dict(version=common.checkpoint_version(name), shown=measure(name))
    path = measurements_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(saved, indent=1))
    bar.empty()


def measure(name: str) -> dict:
    """Best-layer POS accuracy and WSD F1 on the demo sets, and few-shot retrieval accuracy at k = 0 and 8."""
    model = common.load_model(name)
    fast = probing.ProbeSettings(mix=False)
    pos = probing.pos_probe(model, conllu.read_pos_file(conllu.DEMO_POS_TRAIN),
                            conllu.read_pos_file(conllu.DEMO_POS_TEST), settings=fast)
    senses = wsd.wsd_probe(model, sense_files.read_sense_file(sense_files.DEMO_SENSES_TRAIN),
                           sense_files.read_sense_file(sense_files.DEMO_SENSES_TEST), name="demo", settings=fast)
    shown = {"POS, best layer": _best(pos, "accuracy"), "word sense F1, best layer": _best(senses, "f1")}
    if model.causal:
        with common.collect_warnings(propagate=False):  # k = 8 may not fit a small context: the table says k
            curve = prompting.accuracy_curve([model], get_task("retrieval"), ks=(0, 8), seeds=2, n_queries=25)
        acc = curve.table.groupby("k").accuracy.mean()
        shown["few-shot retrieval, k = 0 → 8"] = f"{acc[0]:.0%} → {acc[8]:.0%}"
    return shown


def _best(results: pd.DataFrame, metric: str) -> str:
    rows = results[(results.metric == metric) & results.layer.notna()]
    best = rows.loc[rows.value.idxmax()]
    return f"{best.value:.0%} (layer {int(best.layer)})"


if __name__ == "__main__":
    render()
