"""Use & gain: how each model is used, and what pretraining gains over the same network trained from scratch.

The page lays out the shipped measurements (explorer/transfer/results.py), sweeps of the user's own run in the
background (explorer/transfer/sweeps.py) and what fine-tuning moved inside a network (explorer/transfer/shift.py).
"""
import json
import time
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from explorer import ExplorerError, jobs, paths, transfer
from explorer.families import REGISTRY
from explorer.families.spec import USAGES
from explorer.ui import common

TASKS = {"sst2": "SST-2 sentiment (train phrases → dev sentences)", "upos": "UD English-EWT part of speech (train → test)",
         "file": "your own file (CSV/TSV text[,text_b],label or CoNLL-U)"}
LEVEL = {"sst2": "sentence", "upos": "token"}


def render():
    st.title("Use & gain")
    st.markdown("Each of the five papers used its model differently: ELMo's frozen layers fed a task model "
                "(*features*), GPT and BERT were *fine-tuned* whole, GPT-2 answered from a prompt (*zero-shot*), "
                "GPT-3 from a few examples in the prompt (*few-shot*). Here each way of using a model is measured on "
                "real tasks against **the same network trained on the task alone** (*scratch*) and simple baselines "
                "— the gain is what pretraining bought.")
    usage_table()
    measured, own, moved = st.tabs(["Measured on the shipped models", "Run your own sweep", "What fine-tuning moved"])
    with measured:
        measured_section()
    with own:
        sweep_form()
        sweeps_section()
    with moved:
        shift_section()


def usage_table():
    rows = [{"family": f.display, "year": f.story.get("date", "")[:4], "how its paper used it": f.story.get("used", ""),
             "modes here": ", ".join([m for m in USAGES if m in f.usages] + ["scratch"])}
            for f in REGISTRY.values() if f.story]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


# -- measured results ---------------------------------------------------------------------------------------
def results_view(df: pd.DataFrame, key: str, heading: str = ""):
    """Curves, the table and the gains of one results table, a task at a time."""
    tasks = list(df.task.unique())
    task = st.radio("Task", tasks, horizontal=True, key=f"{key}-task") if len(tasks) > 1 else tasks[0]
    rows = df[df.task == task]
    models = list(rows.model[rows.model != ""].unique())
    lines = rows[rows["mode"].isin(list(transfer.figures.DASH))]
    sizes = lines.groupby("model").n.agg(lambda n: n.nunique(dropna=False))
    curves = [m for m in models if sizes.get(m, 0) > 1 or rows.n[rows.model == m].isna().any()]  # lines, not dots
    shown = st.multiselect("Models in the figure", models, default=curves or models, key=f"{key}-models-{task}")
    common.chart(transfer.figures.curve_figure(rows[rows.model.isin(["", *shown])],
                                               f"{heading}{task}: accuracy against labelled examples",
                                               transfer.results.PUBLISHED_SST2 if task == "sst2" else None),
                 key=f"{key}-curve-{task}", data=rows, name=f"transfer-{task}")
    st.caption("Lines: a model used one way (solid fine-tuned, dash-dot frozen features, dashed the same network "
               "from scratch), mean over seeds with ± one standard deviation; grey: baselines (band ± std); level "
               "lines: prompting, which uses no training set.")
    st.dataframe(transfer.results.wide(rows), hide_index=True, width="stretch")
    gains = transfer.results.gains(rows)
    if not gains.empty:
        st.markdown("**Gain over the same network trained from scratch** (accuracy points, means over seeds)")
        shown = gains.assign(**{c: (100 * gains[c]).round(1) for c in gains if c.startswith("gain_")})
        st.dataframe(shown, hide_index=True)
    mix = transfer.figures.mix_figure(rows, transfer.results.shipped_probe() if task == "upos" else None)
    if mix is not None:
        st.markdown("**Which layers the frozen-feature mix chose** — ELMo's learned `γ · Σ s_j h_j`, for every "
                    "model" + (", beside what a linear probe finds in each layer (the Probing lab's EWT sweep)"
                               if task == "upos" else "") + ".")
        common.chart(mix, key=f"{key}-mix-{task}", name=f"mix-weights-{task}")


def measured_section():
    df = transfer.results.shipped()
    if df.empty:
        st.info("No measured results ship with this copy (bench/results/transfer-*).", icon=":material/info:")
        return
    results_view(df, "shipped")
    st.caption(transfer.results.PUBLISHED_NOTE + " Ours: the tiny models (8–13 M parameters, pretrained on ~30 M "
               "tokens) and MiniLM, used on 2 CPU cores; SST-2 scored on its 872 dev sentences, UPOS on EWT test. "
               "Commands and timings: bench/results/transfer.md.")


# -- the user's own sweep -----------------------------------------------------------------------------------
def sweep_form():
    st.subheader("New sweep")
    names = common.picked()
    with st.form("gain-new"):
        cols = st.columns([2, 3])
        task = cols[0].selectbox("Task", list(TASKS), format_func=TASKS.get, key="gain-task")
        upload = cols[1].file_uploader("Your task file (for 'your own file')", key="gain-upload")
        cols = st.columns([3, 3])
        chosen = cols[0].multiselect("Models (from the sidebar's picks)", names, default=names[:2],
                                     format_func=common.label, key="gain-models")
        mode_names = cols[1].multiselect("Modes", list(transfer.results.MODES), key="gain-modes",
                                         default=["baselines", "features", "finetune", "scratch"])
        cols = st.columns(4)
        sizes = cols[0].text_input("Training sizes n", "100,300,1000", key="gain-n",
                                   help="comma-separated; 'all' for the whole training set")
        seeds = cols[1].number_input("Seeds", 1, 10, 3, key="gain-seeds")
        epochs = cols[2].number_input("Epochs (finetune, scratch)", 1, 20, 3, key="gain-epochs")
        shots = cols[3].number_input("Shots (fewshot)", 1, 32, 4, key="gain-shots")
        save = st.checkbox("Keep the fine-tuned models (to load them, and for 'What fine-tuning moved')",
                           key="gain-save")
        start = st.form_submit_button("Start the sweep", icon=":material/play_arrow:", type="primary")
    if start:
        with common.guard("Starting the sweep"):
            task_arg, level = task_source(task, upload)
            ns = parse_sizes(sizes)
            check_modes(chosen, mode_names, level)
            out = paths.SWEEPS / f"{Path(task_arg).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
            transfer.sweeps.launch(out, task_arg, chosen, mode_names, ns, int(seeds), int(epochs), int(shots),
                                   save=save)
            st.session_state["gain-selected"] = str(out)
            st.rerun()


def task_source(task: str, upload) -> tuple[str, str]:
    """The --task argument and the task's level; an uploaded file is stored and read once to check it."""
    if task != "file":
        return task, LEVEL[task]
    if upload is None:
        raise ExplorerError("upload a task file (CSV/TSV with text,label columns, or CoNLL-U) or choose SST-2 or UPOS")
    path = common.store_uploads([upload]) / Path(upload.name).name
    try:
        return str(path), transfer.data.read_task(path).level
    except ExplorerError as e:
        raise ExplorerError(str(e).replace(str(path), upload.name)) from None


def parse_sizes(text: str) -> list[int | None]:
    try:
        sizes = [None if part.strip() == "all" else int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ExplorerError(f"training sizes must be whole numbers or 'all', separated by commas: not {text!r}") \
            from None
    if not sizes or any(n is not None and n < 1 for n in sizes):
        raise ExplorerError("give at least one training size, each at least 1")
    return sizes


def check_modes(names: list[str], mode_names: list[str], level: str) -> None:
    """Refuse, before anything starts, a mode one of the models cannot serve (with the reason)."""
    if not mode_names:
        raise ExplorerError("choose at least one mode")
    if not names and set(mode_names) != {"baselines"}:
        raise ExplorerError("choose at least one model (only the baselines need none)")
    for name in names:
        model = common.load_model(name)
        for mode in mode_names:
            if mode != "baselines":
                transfer.modes.check_usage(model, mode, level)


def sweeps_section():
    st.subheader("Sweeps")
    folders = transfer.sweeps.sweeps(paths.SWEEPS)
    if not folders:
        st.info(f"No sweeps yet. They are written to {paths.SWEEPS}; the same runs from the command line: "
                "`python -m explorer transfer --help`.", icon=":material/info:")
        return
    options = [str(f) for f in folders]
    if st.session_state.get("gain-selected") not in options:
        st.session_state["gain-selected"] = options[0]
    sweep_view(Path(st.selectbox("Sweep", options, key="gain-selected", format_func=lambda p: Path(p).name)))


BADGES = {"running": ("running", "blue"), "finished": ("finished", "green"), "stopped": ("stopped: continue it", "orange"),
          "failed": ("failed: see the log", "red"), "starting": ("starting", "gray")}


@st.fragment(run_every=3)
def sweep_view(out: Path):
    state = transfer.sweeps.status(out)
    if common.job_just_ended(state, out, "gain-was-running"):
        st.rerun(scope="app")  # it ended: redraw the buttons
    badge, colour = BADGES[state]
    cols = st.columns([1, 1, 4])
    cols[0].badge(badge, color=colour, icon=":material/circle:")
    if state == "running" and cols[1].button("Stop", icon=":material/stop:", key="gain-stop"):
        transfer.sweeps.stop(out)
        st.rerun(scope="app")
    if state == "stopped" and cols[1].button("Continue", icon=":material/replay:", key="gain-continue"):
        transfer.sweeps.resume(out)
        st.rerun(scope="app")
    done, planned, left = transfer.results.progress_of(out)
    if planned:
        eta = f", about {common.clock(left)} left" if left and state == "running" else ""
        st.progress(done / planned, text=f"{done} of {planned} cells{eta}")
    log = transfer.sweeps.log(out)
    if state == "failed" and log:
        st.error(f"The sweep failed: {common.shorten(jobs.failure_reason(log), 300)}", icon=":material/error:")
    results = out / transfer.results.RESULTS
    if results.exists() and results.stat().st_size:
        results_view(pd.read_json(results, lines=True), f"sweep-{out.name}")
    if log:
        with st.expander("Log"):
            st.code(log[-4000:], language=None)


# -- what fine-tuning moved ---------------------------------------------------------------------------------
def finetuned_models() -> dict[str, Path]:
    """Fine-tuned checkpoints kept by sweeps, by label."""
    found = {}
    for card in sorted(paths.SWEEPS.glob(f"*/{transfer.results.CHECKPOINTS}/*/card.json")):
        info = json.loads(card.read_text())
        if info.get("transfer", {}).get("mode") == "finetune":
            found[f"{card.parent.name} (from {info.get('finetuned_from')}, {card.parent.parent.parent.name})"] = card.parent
    return found


def shift_section():
    st.markdown("Fine-tuning moves every parameter: how far did each layer's representation move, and which "
                "attention heads changed most? Linear CKA between the pretrained and the fine-tuned model on the same "
                "sentences (1: the layer represents them as before) and each head's attention change (total-variation "
                "distance, 0: unchanged).")
    found = finetuned_models()
    if not found:
        st.info("No fine-tuned models yet: run a sweep with *finetune* and *Keep the fine-tuned models* ticked.",
                icon=":material/info:")
        return
    chosen = found[st.selectbox("Fine-tuned model", list(found), key="gain-shift-model")]
    text = common.sentence("Sentences to compare on (one a line)", "a gripping , funny and touching film .\n"
                           "the plot is thin and the acting wooden .\nThe dog barked at the old teacher .",
                           key="gain-shift-text", area=True)
    if text and st.button("Compare", icon=":material/compare_arrows:", key="gain-shift-go"):
        with common.guard("Comparing before and after fine-tuning"):
            layers, heads = compare(str(chosen), [line for line in text.splitlines() if line.strip()])
            common.chart(cka_figure(layers), key="gain-cka", data=layers, name="cka-per-layer")
            if not heads.empty:
                st.markdown("**Heads that changed most**")
                st.dataframe(heads.head(10), hide_index=True)


@common.cached
def compare(finetuned: str, texts: list[str]):
    after = common.load_model(finetuned)
    before = common.load_model(after.card["finetuned_from"])
    moved = transfer.shift.shift(before, after, texts)
    return moved.layers, moved.heads


def cka_figure(layers: pd.DataFrame) -> go.Figure:
    fig = go.Figure(go.Bar(x=layers.layer, y=layers.cka, marker_color="#2f6f8f"))
    fig.update_layout(xaxis=dict(title="layer (0 = input embeddings)", dtick=1), yaxis=dict(title="linear CKA",
                      range=[0, 1.05]), height=360, margin=dict(t=20, b=40))
    return fig


if __name__ == "__main__":
    render()
