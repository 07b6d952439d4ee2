"""Train: a tiny model's training as a background process, its live loss curve, stop and resume.

The run is `python -m explorer train ...` in its own process (the app stays responsive and a stopped
run resumes from its last checkpoint); the page only reads the files it writes: metrics.jsonl, the
checkpoint folder, and the finished model, which then joins the model picker.
"""
import hashlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from explorer import ExplorerError, zoo
from explorer.data.corpus import load_corpus, text_files
from explorer.text import check_text
from explorer.training.checkpoint import latest, read_state
from explorer.training.loop import CHECKPOINT, METRICS
from explorer.ui import common

FAMILIES = ["gpt2", "gpt", "gpt3", "bert", "elmo"]
SIZES = {  # quick sizes for a demo on a laptop; "shipped" is the size of the models that come with the app
    "small (a few minutes)": {"transformer": "d_model=64,n_layers=2,n_heads=2,context=128",
                              "gpt3": "d_model=64,n_layers=2,n_heads=2,context=128,window=16",
                              "elmo": "d_model=64,cell=256,n_layers=2"},
    "shipped size (about 20 minutes)": None,
}
RUN_FILE, LOG_FILE = "app_run.json", "train.log"
_SHARED_TEXT = zoo.SHARED_DATA / "gutenberg_nltk_sentences"


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
        family = cols[0].selectbox("Family", FAMILIES, format_func=common.FAMILY_NAMES.get, key="train-family")
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
            launch(out, train_args(family, corpus, int(tokens), out, name, size, int(batch), float(lr), int(every)))
            st.session_state["train-selected"] = str(out)
            st.rerun()


def corpus_source(path_text: str, upload) -> Path:
    """The uploaded file (stored once under the app's home), or the given path, checked before any run starts."""
    if upload is not None:
        content = common.upload_text(upload)
        folder = zoo.USER_MODELS.parent / "corpora" / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{hashlib.sha256(content).hexdigest()[:16]}-{Path(upload.name).stem[:40]}.txt"
        path.write_bytes(content)
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
    if status(out) in ("running", "stopped"):
        raise ExplorerError(f"{name} has a run already: resume or watch it below, or choose another name")
    return out


def train_args(family, corpus, tokens, out, name, size, batch, lr, every) -> list[str]:
    args = [family, "--corpus", str(corpus), "--tokens", str(tokens), "--out", str(out), "--name", name,
            "--batch-size", str(batch), "--lr", str(lr), "--no-progress", "--force"]
    preset = SIZES[size]
    if preset is not None:
        args += ["--size", preset.get(family, preset["transformer"])]
    if every:
        args += ["--checkpoint-every", str(every)]
    return args


@st.cache_resource
def _processes() -> dict:
    """Training processes started by this app process, by output folder."""
    return {}


def launch(out: Path, args: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "explorer", "train", *args]
    with open(out / LOG_FILE, "ab") as log:
        log.write(f"\n$ {shlex.join(command[1:])}\n".encode())
        log.flush()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=zoo.ROOT,
                                   start_new_session=True)
    _processes()[str(out)] = process
    (out / RUN_FILE).write_text(json.dumps(dict(pid=process.pid, args=args, started=time.time())))


# -- watching runs ------------------------------------------------------------------------------------------
def runs() -> list[Path]:
    """Folders under the user's models that hold a run started here or from the command line."""
    root = zoo.USER_MODELS
    if not root.exists():
        return []
    found = {p.parent for pattern in (METRICS, RUN_FILE) for p in root.glob(f"*/{pattern}")}
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def status(out: Path) -> str:
    """running, finished, stopped (resumable), failed, or starting."""
    process = _processes().get(str(out))
    if (process.poll() is None) if process is not None else _pid_alive(out):
        return "running"
    if (out / "config.json").exists():
        return "finished"
    if (out / CHECKPOINT).exists() and latest(out / CHECKPOINT) is not None:
        return "stopped"
    return "failed" if (out / LOG_FILE).exists() else "starting"


def _pid_alive(out: Path) -> bool:
    """A run started by an earlier app process: is its training process still there?"""
    try:
        pid = json.loads((out / RUN_FILE).read_text())["pid"]
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, KeyError):
        return False
    return b"explorer" in cmdline and b"train" in cmdline


def stop(out: Path) -> None:
    process = _processes().get(str(out))
    if process is not None:
        process.terminate()
        process.wait(timeout=30)
    elif _pid_alive(out):
        os.kill(json.loads((out / RUN_FILE).read_text())["pid"], signal.SIGTERM)


def resume(out: Path) -> None:
    """Continue from the last checkpoint with the run's own settings (saved in the checkpoint)."""
    config = read_state(latest(out / CHECKPOINT))["config"]
    launch(out, [config["family"], "--corpus", config["corpus"], "--tokens", str(config["tokens"]),
                 "--out", str(out), "--resume", "--no-progress"])


def metrics(out: Path) -> pd.DataFrame:
    path = out / METRICS
    if not path.exists():
        return pd.DataFrame()
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a line being written right now
            break
    return pd.DataFrame(rows)


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
    folders = runs()
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
    state = status(out)
    if state == "running":
        st.session_state["train-was-running"] = str(out)
    elif st.session_state.pop("train-was-running", None) == str(out):
        if state == "finished":
            common.add_model(str(out))
        st.rerun(scope="app")  # the run ended: refresh the picker and the buttons
    badge, colour = BADGES[state]
    table = metrics(out)
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
        st.caption("Preparing: reading the corpus and training the tokenizer…")
    log = out / LOG_FILE
    if log.exists():
        text = without_tracebacks(log.read_text(errors="replace"))
        if state == "failed":
            st.error(f"The run failed: {failure_reason(text)}", icon=":material/error:")
        with st.expander("Log"):
            st.code(text[-4000:], language=None)


def without_tracebacks(log: str) -> str:
    """The log with each Python traceback cut to its last line (the exception), which is what a reader needs."""
    return re.sub(r"Traceback \(most recent call last\):\n(?:[ \t].*\n)*", "", log)


def failure_reason(log: str) -> str:
    """The last line the run wrote: `explorer train` ends a failed run with 'error: <reason>'."""
    lines = [line for line in log.splitlines() if line.strip()]
    return lines[-1].removeprefix("error: ") if lines else "it wrote nothing to its log"


BADGES = {"running": ("running", "blue"), "finished": ("finished: in the model picker", "green"),
          "stopped": ("stopped: resumable", "orange"), "failed": ("failed: see the log", "red"),
          "starting": ("starting", "gray")}


def controls(out: Path, state: str):
    cols = st.columns(6)
    if state == "running" and cols[0].button("Stop", icon=":material/stop:", key="train-stop", width="stretch"):
        stop(out)
        st.rerun(scope="app")
    if state == "stopped" and cols[0].button("Resume", icon=":material/replay:", key="train-resume",
                                             width="stretch", type="primary"):
        with common.guard("Resuming"):
            resume(out)
            st.rerun(scope="app")
    if state == "finished":
        cols[0].caption(f"Saved in {out}")


if __name__ == "__main__":
    render()
