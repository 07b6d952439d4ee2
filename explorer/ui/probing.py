"""Probing lab: what each layer knows — part of speech (syntax), word sense (WSD) and same-sense pairs (WiC).

The ELMo paper's experiment (its section 5.3: lower layers carry syntax, upper layers word sense), with the
controls that make a probe mean something: baselines, a control task and selectivity, a scalar mix.
"""
import json
from pathlib import Path

import streamlit as st

from explorer import ExplorerError, analysis
from explorer.data import probe_data
from explorer.ui import common

TASKS = {"pos": "Part of speech (syntax)", "wsd": "Word sense disambiguation", "wic": "Same sense? (WiC pairs)"}
_RESULT = "probing-result"


def render():
    st.title("Probing lab")
    st.markdown("Train a small classifier (a *probe*) on each layer's word vectors and see where the model keeps "
                "what. The ELMo paper found **syntax low and word sense high**; probes are kept honest by baselines, "
                "a control task (random tags per word type: *selectivity* = accuracy − control accuracy) and an "
                "ELMo-style scalar mix whose learned weights show which layers a task uses.")
    names = common.require_models()
    task = st.segmented_control("Task", list(TASKS), format_func=TASKS.get, default="pos", key="probing-task") or "pos"
    sources = ["demo"] + (["shared"] if probe_data.shared_files(task) else []) + ["upload"]
    source = st.radio("Data", sources, format_func=SOURCES.get, horizontal=True, key=f"probing-source-{task}")
    columns = column_picker() if source == "upload" and task == "pos" else {}  # outside the form: it reshapes it
    with st.form("probing-run"):
        data = choose_data(task, source, columns)
        cols = st.columns(4)
        pool = cols[0].selectbox("Word vector", ["first", "mean"], key="probing-pool",
                                 format_func={"first": "first sub-token", "mean": "mean of sub-tokens"}.get)
        tagset = cols[1].selectbox("Tags", ["upos", "xpos"], key="probing-tagset", disabled=task != "pos",
                                   format_func=str.upper)
        mix = cols[2].checkbox("Scalar mix", True, key="probing-mix", disabled=task == "wic")
        mlp = cols[3].checkbox("Also an MLP probe", False, key="probing-mlp", disabled=task != "pos",
                               help="One hidden layer: more capacity, and usually lower selectivity.")
        cols = st.columns(4)
        control = cols[0].checkbox("Random-init control model", False, key="probing-control-model",
                                   help="Also probe a copy of each model with fresh random weights (same architecture "
                                        "and tokenizer): the gap to it is what training added.")
        codelength = cols[1].checkbox("MDL codelength", False, key="probing-codelength", disabled=task != "pos",
                                      help="Voita & Titov (2020): how many bits the tags cost when sent with probes "
                                           "trained on growing shares of the data. Compression > 1: extractable.")
        conditional = cols[2].checkbox("Beyond word identity", False, key="probing-conditional",
                                       disabled=task != "pos",
                                       help="Hewitt et al. (2021): the bits per word each layer adds to a probe "
                                            "that already knows the word type (0: nothing beyond a lookup table).")
        run = st.form_submit_button("Run the probes", icon=":material/play_arrow:", type="primary")
    if run:
        with common.guard("The probing run"):
            pos = task == "pos"
            settings = analysis.probing.ProbeSettings(
                mix=mix and task != "wic", mlp_hidden=256 if mlp and pos else 0, codelength=codelength and pos,
                conditional="word" if conditional and pos else "")
            st.session_state[_RESULT] = run_probes(names, data(), pool, tagset, settings, control)
    if _RESULT not in st.session_state:
        st.info("Choose the data and press **Run the probes**: each picked model is probed layer by layer.",
                icon=":material/play_arrow:")
        return
    with common.guard("Showing the results"):
        show(st.session_state[_RESULT])


# -- data ------------------------------------------------------------------------------------------------
SOURCES = {"demo": "Demo set (ships with the app)", "shared": "Real data (../shared/data)", "upload": "Your files"}


def choose_data(task, source, columns):
    """The source's own inputs; returns a function reading the data (a ProbeData) when the run starts."""
    limit = None
    if source == "shared":
        limit = st.slider("Training sentences (the real sets are large: fewer is faster)", 200, 12_000, 2_000,
                          step=200, key=f"probing-limit-{task}")
        st.caption(SHARED_NOTE[task])
    uploads = {}
    if source == "upload":
        cols = st.columns(2)
        for col, role in zip(cols, ("train", "test")):
            uploads[role] = col.file_uploader(f"{role.capitalize()} files: {UPLOAD_HELP[task]}",
                                              accept_multiple_files=True, key=f"probing-upload-{task}-{role}")
    return lambda: read_data(task, source, limit, uploads, columns)


def column_picker() -> dict:
    """For whitespace column files (CoNLL-2000's word POS chunk, ...): which column holds the word, which the tag."""
    cols = st.columns([2, 1, 1])
    if not cols[0].checkbox("Column file: I pick the columns", False, key="probing-columns",
                            help="Otherwise the format is read from the file: CoNLL-U, PTB .pos, word/TAG, or "
                                 "columns with the word first and the tag second."):
        return {}
    return dict(word_col=cols[1].number_input("Word column (from 0)", 0, 20, 0, key="probing-word-col"),
                tag_col=cols[2].number_input("Tag column (from 0)", 0, 20, 1, key="probing-tag-col"))


SHARED_NOTE = {"pos": "UD English-EWT: train → test.",
               "wsd": "SemCor (train) → Raganato's ALL with its five parts (test), as in ELMo §5.3."}
UPLOAD_HELP = {"pos": "a .conllu treebank, a PTB .pos file, a .txt with word/TAG pairs (one sentence a line) or "
                      "with word and tag columns (CoNLL-2000: word POS chunk)",
               "wsd": "a .tsv sense file, Senseval lexical-sample XML, or a *.data.xml with its *.gold.key.txt",
               "wic": "a *.data.txt with its *.gold.txt"}


def read_data(task, source, limit, uploads, columns) -> probe_data.ProbeData:
    if source == "shared":
        return probe_data.read(task, **probe_data.shared_files(task), train_limit=limit)
    if source == "upload":
        files = {role: stored_upload(task, role, uploads.get(role)) for role in ("train", "test")}
        return probe_data.read(task, **files, **columns)
    return probe_data.read(task)


def stored_upload(task, role, files) -> Path:
    """Uploaded files saved under their own names in one folder (key files sit beside their data file)."""
    if not files:
        raise ExplorerError(f"no {role} file uploaded: {UPLOAD_HELP[task]}")
    folder = common.store_uploads(files)
    names = [Path(f.name).name for f in files]
    main = [n for n in names if not n.endswith((".gold.key.txt", ".gold.txt"))]
    if len(main) != 1:
        raise ExplorerError(f"{role}: upload one data file ({UPLOAD_HELP[task]}), plus its key file if it has one; "
                            f"got {', '.join(names)}")
    return folder / main[0]


# -- the run -------------------------------------------------------------------------------------------------
def run_probes(names, data, pool, tagset, settings, control: bool = False):
    """Every picked model (and, with ``control``, a random-init copy of each) probed in turn, under a progress bar."""
    bar = common.StepBar(len(names) * (1 + control))
    done = analysis.probe_run.run(data, (common.load_model(name) for name in names), settings, control=control,
                                  pool=pool, tagset=tagset, on_model=lambda i, m: bar.model(i, f"Probing {m.name}"),
                                  on_step=bar)
    bar.empty()
    return done


# -- results ---------------------------------------------------------------------------------------------
def show(run):
    results, task = run.results, run.task
    st.header(f"Results: {TASKS[task].lower()}", divider="gray")
    tasks = list(dict.fromkeys(results.task))
    cols = iter(st.columns([2, 2, 1] if len(tasks) > 1 else [2, 1]))
    shown_task = next(cols).selectbox("Test set", tasks, key="probing-shown-task") if len(tasks) > 1 else tasks[0]
    metrics = sorted(set(results[results.task == shown_task].metric) - set(analysis.probing.BASELINES)
                     - {"mix_weight", "mix_gamma", "threshold", "unseen_test_tags"},
                     key=lambda m: (m != analysis.probe_run.METRIC[task], m))
    metric = next(cols).selectbox("Metric", metrics, key="probing-metric")
    relative = next(cols).checkbox("Relative depth", False, key="probing-relative",
                                   help="Layers as a share of each model's depth, to compare models of different "
                                        "depth.")
    for c in analysis.probing.summary(results[results.task == shown_task]):
        st.markdown(f"**{c['model']}**: best layer (chosen on dev) "
                    + ", ".join(f"{l} (test {c['metric']} {c['test_' + c['metric']][l]:.3f}"
                                + (f", selectivity {c['selectivity'][l]:.3f})" if c["selectivity"] else ")")
                                for l in c["best_layers"])
                    + (" — a tie" if len(c["best_layers"]) > 1 else "")
                    + (f"; not above the word-type baseline ({c['word_type_baseline']:.3f}) at layer"
                       f" {', '.join(map(str, c['below_word_type']))}" if c["below_word_type"] else ""))
    fig = analysis.probing.layer_figure(results, shown_task, metric, relative=relative)
    common.chart(fig, key="probing-layers", data=results, name=f"probe-{shown_task.replace('/', '-')}")
    if task == "pos":
        fig = analysis.probing.selectivity_figure(results, shown_task, relative=relative)
        common.chart(fig, key="probing-selectivity", data=results, name="probe-selectivity")
    if (results.metric == "mix_weight").any():
        st.caption("The scalar mix: softmax weights over the layers, learned with the probe (ELMo's Figure 2).")
        common.chart(analysis.probing.mix_weights_figure(results), key="probing-mix-weights", data=results,
                     name="probe-mix-weights")
    with st.expander("The result table and the run's configuration"):
        st.dataframe(results, hide_index=True, width="stretch")
        st.caption("Per layer, side by side; *flag* marks the best layer(s) dev chose and layers whose test accuracy "
                   "is not above the word-type baseline.")
        st.dataframe(analysis.probing.layer_table(results[results.task == shown_task]), hide_index=True,
                     width="stretch")
        st.json(run.config, expanded=False)
        st.download_button("Configuration (JSON)", json.dumps(run.config, indent=2, default=str),
                           file_name="probe-config.json", mime="application/json", icon=":material/download:",
                           key="probing-config", on_click="ignore")


if __name__ == "__main__":
    render()
