"""Journey (home): the five models as a timeline, the shipped tiny models' cards, and a comparison table."""
import json

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from explorer import analysis, transfer
from explorer.families import REGISTRY
from explorer.paths import CACHE, read_card
from explorer.ui import common
from explorer.zoo import TINY, TRAINED

# What the original papers built and reported (the numbers are the papers' own), from each family's spec.
HISTORY = sorted(({"family": f.name, "model": f.story.get("model", f.display)} | f.story for f in REGISTRY.values()),
                 key=lambda step: step["date"])


def render():
    st.title("Linguistic Travelling")
    st.markdown("Five models that changed how machines read, from **ELMo** to **GPT-3**, each rebuilt here as a "
                "tiny model trained on **one corpus with one token budget**, so that what differs between them is "
                "the architecture and the objective. The last step, **SmolLM2-135M**, is a real pretrained model of "
                "the kind GPT-3 led to (a thousandth of its size) that runs here offline. Pick models in the sidebar "
                "and travel through their layers.")
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
            st.badge(step["use"], color="blue")
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
               "measurement, read from each model's card: the validation run at the end of training, on the "
               "training run's own held-out slice, in the sequences it trained on (packed 256-token sequences, "
               "half of them key-value documents for the causal models; 256-token sentence pairs for BERT). The "
               "README's table measures the same models on 300 held-out sentences read one at a time "
               "(`pytest tests/test_training.py -k shipped`): lower perplexities there for the causal models, and "
               "32.9 % masked-token accuracy for bert-tiny against 16.3 % here, because short single sentences are "
               "easier to fill in. ELMo's two directions agree here (71.1) because each scores every sentence whole, "
               "its words and one boundary marker, so both estimate the same probability of the sentence; the "
               "README's 67 / 78 leave out the predictions at the sentence edges (forward: the first word and the "
               "end marker; backward: the last word and the start marker), which are not equally hard.")
    for col, (name, card) in zip(st.columns(len(trained)), trained.items()):
        with col.container(border=True, height="stretch"):
            st.subheader(name, anchor=False)
            st.caption(f"{card.get('objective', '')} · trained on {_hardware(card)}")
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


def _hardware(card: dict) -> str:
    """Where a model was trained: its GPU, or how many CPU threads."""
    hw = card.get("hardware", {})
    return hw.get("gpu") or (f"{hw['cpu_threads']} CPU threads" if hw.get("cpu_threads") else "unrecorded hardware")


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
    cards, measured, gained = shipped(), measurements(), transfer.results.headline(transfer.results.shipped())
    rows = []
    for step in HISTORY:
        name = REGISTRY[step["family"]].tiny_name
        card = card_metrics(cards.get(name, {}))
        held_out = next((f"{k}: {v}" for k, v in card.items() if "perplexity" in k or "accuracy" in k), "—")
        rows.append({"model": step["model"], "year": step["date"][:4], "architecture": step["architecture"],
                     "objective": step["objective"], "data": step["data"], "how used": step["used"],
                     "gain (paper)": step["gain"], "tiny here: gain over scratch, n = 1k": _gained(step["family"], gained),
                     "original size": _human(step["params"]),
                     "tiny here: parameters": card.get("parameters", "—"), "tiny here: held-out text": held_out}
                    | {f"tiny here: {k}": v for k, v in measured.get(name, {}).get("shown", {}).items()})
    table = pd.DataFrame(rows).fillna("—")
    st.table(table.set_index("model"))
    st.caption("Paper columns quote the original papers; the *tiny here* columns are this tool's own measurements "
               "on its shipped models: held-out text never seen in training, and the demo sets. *Gain over scratch*: "
               "dev accuracy on SST-2 and test accuracy on EWT UPOS after 1,000 labelled examples, frozen features "
               "and fine-tuned, with (in brackets) the points gained over the same network trained on the task "
               "alone — the *Use & gain* page has the curves.")
    cols = st.columns([1, 3])
    with cols[0]:
        common.downloads("journey-table", data=table, name="five-models")
    if cards and cols[1].button("Measure the tiny models on the demo sets (a minute or two)",
                                icon=":material/speed:", key="journey-measure"):
        with common.guard("Measuring the tiny models"):
            measure_all(list(cards))
            st.rerun()


def _gained(family: str, gained: dict[str, str]) -> str:
    """The shipped tiny model's transfer headline; for a family with none shipped (Llama), its real checkpoint's."""
    spec = REGISTRY[family]
    if spec.tiny_name in gained:
        return gained[spec.tiny_name]
    real = next((name for name in spec.real if name in gained), None)
    return f"{real} (real): {gained[real]}" if real else "—"


# -- the tool's own measurements of the shipped models, kept on disk beside the feature cache ----------------
def measurements_file():
    return CACHE / "journey_measurements-2.json"  # 2: best layers chosen on dev (files before it chose on test)


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
        with common.collect_warnings(propagate=False):  # k = 8 may not fit a small context: the label says k
            shown = analysis.demo_scores.demo_scores(common.load_model(name))
            saved[name] = dict(version=common.checkpoint_version(name), shown=shown)
    path = measurements_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(saved, indent=1))
    bar.empty()


if __name__ == "__main__":
    render()
