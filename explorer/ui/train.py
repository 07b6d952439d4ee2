"""Train: a tiny model's training as a background process, its live loss curve, stop and resume.

The page lays out a run's form and view; explorer/training/runs.py starts, watches, stops and resumes it.
"""
import time
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from explorer import ExplorerError, jobs, training, zoo
from explorer.data.corpus import load_corpus, text_files
from explorer.families import REGISTRY
from explorer.text import check_text
from explorer.paths import SHARED_DATA
from explorer.ui import common

SIZES = ("small (a few minutes)", "shipped size (about 20 minutes)")  # each family's spec.quick, or spec.tiny
_SHARED_TEXT = SHARED_DATA / "gutenberg_nltk_sentences"


def render():
    st.title("Train")
    st.markdown("Train your own tiny model with its family's objective — biLM for ELMo, causal LM for the GPT "
                "family, masked LM + next-sentence prediction for BERT — on any text with one sentence a line. "
                "It runs in the background; stop it whenever you like and resume from its last checkpoint. "
                "The finished model joins the model picker.")
    new_run_form()
    runs_section()


# -- starting a run -------------------------------------------------------------------------------------
def new_run_form():
    st.header("New run", divider="gray")
    with st.form("train-new"):
        cols = st.columns(3)
        family = cols[0].selectbox("Family", list(REGISTRY), format_func=lambda f: REGISTRY[f].display,
                                   key="train-family")
        name = cols[1].text_input("Name", "my-model", key="train-name",
                                  help="Letters, digits, '-', '_' and '.'; the model's folder gets this name.")
        size = cols[2].selectbox("Size", list(SIZES), key="train-size")
        cols = st.columns(3)
        corpus_path = cols[0].text_input("Corpus: a text file or folder of .txt files",
                                         str(_SHARED_TEXT) if _SHARED_TEXT.exists() else "", key="train-corpus")
        upload = cols[1].file_uploader("…or upload a .txt file", type=None, key="train-upload")
        tokens = cols[2].number_input("Token budget", 10_000, 50_000_000, 300_000, step=50_000, key="train-tokens")
        with st.expander("Advanced"):
            cols = st.columns(3)
            batch = cols[0].number_input("Batch size", 2, 256, 16, key="train-batch")
            lr = cols[1].number_input("Peak learning rate", 1e-5, 1e-1, 1e-3, format="%.5f", key="train-lr")
            every = cols[2].number_input("Checkpoint every N steps (0: a tenth of the run)", 0, 100_000, 0,
                                         key="train-every")
        start = st.form_submit_button("Start training", icon=":material/play_arrow:", type="primary")
    if start:
        with common.guard("Starting the run"):
            corpus = corpus_source(corpus_path, upload)
            out = run_folder(name)
            training.runs.launch(train_config(family, corpus, int(tokens), out, name, size, int(batch), float(lr),
                                              int(every)))
            st.session_state["train-selected"] = str(out)
            st.rerun()


def corpus_source(path_text: str, upload) -> Path:
    """The uploaded file (stored once under the app's home), or the given path, checked before any run starts."""
    if upload is not None:
        path = common.store_uploads([upload]) / Path(upload.name).name
        load_corpus(path)  # empty, binary or single-line files fail here, with the reason
        return path
    if not path_text.strip():
        raise ExplorerError("no corpus: give a text file or folder, or upload a .txt file")
    path = Path(check_text(path_text, "the corpus path").strip()).expanduser()
    text_files(path)
    return path


def run_folder(name: str) -> Path:
    name = name.strip()
    if not name or not all(c.isalnum() or c in "-_." for c in name) or name.startswith("."):
        raise ExplorerError(f"{common.shorten(name)!r} cannot name a model folder: use letters, digits, '-', '_' "
                            "and '.'")
    out = zoo.USER_MODELS / name
    if (out / "config.json").exists():
        raise ExplorerError(f"a finished model called {name} exists already ({out}): choose another name")
    if training.runs.status(out) in ("running", "stopped"):
        raise ExplorerError(f"{name} has a run already: resume or watch it below, or choose another name")
    return out


def train_config(family, corpus, tokens, out, name, size, batch, lr, every) -> "training.TrainConfig":
    quick = REGISTRY[family].quick if size == SIZES[0] else {}
    return training.TrainConfig(family=family, corpus=corpus, tokens=tokens, out=out, name=name, size=quick,
                                batch_size=batch, lr=lr, checkpoint_every=every)


def loss_figure(table: pd.DataFrame, name: str) -> go.Figure:
    fig = go.Figure()
    fig.add_scatter(x=table["tokens"], y=table["loss"], mode="lines", name="training loss",
                    line=dict(color="#2f6f8f"))
    if "val_loss" in table:
        val = table.dropna(subset=["val_loss"])
        fig.add_scatter(x=val["tokens"], y=val["val_loss"], mode="lines+markers", name="validation loss",
                        line=dict(color="#d08c3a"))
    fig.update_layout(title=f"{name}: loss while training", xaxis_title="tokens seen", yaxis_title="loss (nats)",
                      template="plotly_white", height=380, legend=dict(orientation="h", y=1.12, x=1, xanchor="right"))
    return fig


def runs_section():
    st.header("Runs", divider="gray")
    folders = training.runs.runs(zoo.USER_MODELS)
    if not folders:
        st.info(f"No runs yet. Models you train go to {zoo.USER_MODELS}.", icon=":material/info:")
        return
    options = [str(f) for f in folders]
    if st.session_state.get("train-selected") not in options:
        st.session_state["train-selected"] = options[0]
    chosen = Path(st.selectbox("Run", options, key="train-selected", format_func=lambda p: Path(p).name))
    run_view(chosen)


@st.fragment(run_every=2)
def run_view(out: Path):
    state = training.runs.status(out)
    if common.job_just_ended(state, out, "train-was-running"):
        if state == "finished":
            common.add_model(str(out))
        st.rerun(scope="app")  # the run ended: refresh the picker and the buttons
    badge, colour = BADGES[state]
    table = pd.DataFrame(training.runs.metrics(out))
    st.badge(badge, color=colour, icon=":material/circle:")
    controls(out, state)
    if not table.empty:
        last = table.iloc[-1]
        cols = st.columns(4)
        cols[0].metric("step", f"{int(last['step']):,}")
        cols[1].metric("tokens seen", f"{int(last['tokens']):,}")
        cols[2].metric("training loss", f"{last['loss']:.3f}")
        cols[3].metric("tokens / s", f"{last['tokens_per_s']:,.0f}")
        common.chart(loss_figure(table, out.name), key="train-loss", data=table, name=f"{out.name}-metrics")
    elif state == "running":
        done, what = training.runs.preparation(out) or (0.0, "starting")
        begun = jobs.started(out)
        since = f" · {common.clock(time.time() - begun)} since it started" if begun else ""
        st.progress(done, text=f"Preparing: {what}{since}")
    log = training.runs.log(out)
    if log is not None:
        if state == "failed":
            st.error(f"The run failed: {training.runs.failure_reason(log)}", icon=":material/error:")
        with st.expander("Log"):
            st.code(log[-4000:], language=None)


BADGES = {"running": ("running", "blue"), "finished": ("finished: in the model picker", "green"),
          "stopped": ("stopped: resumable", "orange"), "failed": ("failed: see the log", "red"),
          "starting": ("starting", "gray")}


def controls(out: Path, state: str):
    cols = st.columns(6)
    if state == "running" and cols[0].button("Stop", icon=":material/stop:", key="train-stop", width="stretch"):
        training.runs.stop(out)
        st.rerun(scope="app")
    if state == "stopped" and cols[0].button("Resume", icon=":material/replay:", key="train-resume",
                                             width="stretch", type="primary"):
        with common.guard("Resuming"):
            training.runs.resume(out)
            st.rerun(scope="app")
    if state == "finished":
        cols[0].caption(f"Saved in {out}")


if __name__ == "__main__":
    render()
