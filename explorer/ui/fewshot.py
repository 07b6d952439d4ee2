"""Few-shot lab: build a prompt, ask every causal model, accuracy against the number of shots, induction heads."""
from pathlib import Path

import pandas as pd
import streamlit as st

from explorer import ExplorerError
from explorer import analysis
from explorer.data.tasks import UNRELATED, Template, get_task, load_task_file, relabel, task_names
from explorer.text import check_text
from explorer.ui import common

UPLOAD = "your own file…"
_CURVE = "fewshot-curve-result"
PRESET_NAMES = {"natural": "gold", "flipped": "flipped", "random": "random", "unrelated": "unrelated (foo/bar)",
                "none": "no labels (inputs only)"}


def render():
    st.title("Few-shot lab")
    st.markdown("GPT-2 answered tasks it was never trained on when they were written as text; GPT-3 learned a task "
                "from a few examples in its prompt, better the larger it was. Build a prompt, ask every picked "
                "causal model, and watch accuracy grow with the number of examples (shots).")
    names = common.require_models()
    causal = common.picked_where(names, lambda f: f.causal)
    if len(causal) < len(names):
        others = ", ".join(common.label(n) for n in names if n not in causal)
        st.info(f"Prompting needs a left-to-right language model: {others} cannot continue a prompt (BERT fills in "
                "masked words; ELMo's language models exist to give word vectors). They are left out here.",
                icon=":material/info:")
    if not causal:
        return
    task = choose_task()
    if task is None:
        return
    template, instruction = choose_template(task)
    if template is None:
        return
    prompt_builder(causal, task, template, instruction)
    accuracy_against_k(causal, task, template, instruction)
    induction_heads(causal)


# -- task and template ----------------------------------------------------------------------------------
def choose_task():
    left, right = st.columns([1, 2])
    options = task_names() + [UPLOAD]
    choice = left.selectbox("Task", options, index=options.index("retrieval"), key="fewshot-task",
                            help="Built-in tasks follow the GPT-3 paper (word scrambles, arithmetic), add simple "
                                 "classification with natural, permuted or random labels, in-context retrieval, "
                                 "and SST-2 movie reviews (../shared/data/sst2).")
    if choice != UPLOAD:
        task = None
        with common.guard("Loading the task"):
            task = get_task(choice)
        if task is None:
            return None
    else:
        upload = left.file_uploader("Task file (CSV with columns input,output, or JSON)", type=None,
                                    key="fewshot-upload")
        if upload is None:
            right.info("Upload a CSV with columns `input,output`, or a JSON list of "
                       "`{\"input\": …, \"output\": …}`.", icon=":material/upload_file:")
            return None
        task = None
        with common.guard("Reading the task file"):
            task = load_task_file(common.store_uploads([upload]) / Path(upload.name).name)
        if task is None:
            return None
    if task.classification and task.label_mode == "natural" and len(task.labels) > 1:
        presets = [p for p in PRESET_NAMES if p != "unrelated" or len(task.labels) <= len(UNRELATED)]
        preset = left.radio("Demonstration labels", presets, format_func=PRESET_NAMES.get,
                            horizontal=True, key=f"fewshot-preset-{task.name}",
                            help="What the demonstrations show: gold labels; flipped or random ones (answers are "
                                 "still scored against the truth: Min et al. 2022); unrelated words in place of the "
                                 "labels (Wei et al. 2023); or the inputs alone.")
        if preset != "natural":
            task = relabel(task, preset)
    kind = f"classification into {', '.join(task.labels[:8])}{'…' if len(task.labels) > 8 else ''}" \
        if task.classification else "open answers, written by greedy decoding"
    right.markdown(f"**{task.name}** · {kind}\n\n{task.description}")
    return task


def choose_template(task):
    with st.expander("Template and instruction", icon=":material/edit_note:"):
        cols = st.columns(3)
        base = task.template
        input_format = cols[0].text_input("Query format", base.input_format, key=f"fewshot-in-{task.name}",
                                          help="How an input is written; must contain {input}.")
        output_format = cols[1].text_input("Answer format", base.output_format, key=f"fewshot-out-{task.name}",
                                           help="How its answer follows; must contain {output}. Keep the leading "
                                                "space.")
        separator = cols[2].text_input("Separator", _escape(base.separator), key=f"fewshot-sep-{task.name}",
                                       help=r"Between examples; \n is a new line.")
        instruction = st.text_input("Instruction (optional)", task.instruction, key=f"fewshot-instr-{task.name}")
    try:
        for what, value in (("the query format", input_format), ("the answer format", output_format),
                            ("the instruction", instruction)):
            if value.strip():
                check_text(value, what)
        return Template(input_format, output_format, _unescape(separator)), instruction
    except ExplorerError as e:
        st.error(str(e), icon=":material/error:")
        return None, None


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def _unescape(text: str) -> str:
    return text.replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")


# -- one prompt --------------------------------------------------------------------------------------------
def prompt_builder(names, task, template, instruction):
    st.header("One prompt, every model", divider="gray")
    cols = st.columns(3)
    k = cols[0].slider("Shots (k)", 0, min(16, task.max_shots), 4, key="fewshot-k")
    seed = cols[1].number_input("Demonstration seed", 0, 999, 0, key="fewshot-seed")
    query = cols[2].number_input("Query number", 0, max(0, len(task.query_indices(1000)) - 1), 0,
                                 key="fewshot-query")
    with common.guard("Building the prompt"):
        prompt = analysis.prompting.make_prompt(task, int(query), k, int(seed), template, instruction)
        st.caption(f"The exact prompt ({k} demonstrations); the expected answer is **{prompt.query.output}**.")
        st.code(prompt.text, language=None, wrap_lines=True)
        answers = ask(tuple(names), prompt.text, task.labels, _fields(template), prompt.query.output)
        show_answers(answers, task)


def _fields(template) -> tuple[str, str, str]:
    return template.input_format, template.output_format, template.separator


@common.cached
def ask(names: tuple, prompt: str, labels, template: tuple, expected: str) -> pd.DataFrame:
    models = [common.load_model(n) for n in names]
    return analysis.prompting.compare(models, prompt, list(labels) if labels else None, Template(*template), expected)


def show_answers(answers: pd.DataFrame, task):
    for col, row in zip(st.columns(max(3, len(answers))), answers.to_dict("records")):
        with col.container(border=True):
            st.markdown(f"**{row['model']}**")
            st.metric("answer", row["answer"] or "(nothing)",
                      delta="correct" if row["correct"] else "wrong",
                      delta_color="normal" if row["correct"] else "inverse", delta_arrow="off")
            share = f" · {row['share']:.0%} of the label probability" if task.classification else ""
            st.caption(f"P(answer) = {row['probability']:.3g}{share}")
    common.downloads("fewshot-answers", data=answers, name="fewshot-answers")


# -- accuracy against k -----------------------------------------------------------------------------------
def accuracy_against_k(names, task, template, instruction):
    st.header("Accuracy against the number of shots", divider="gray")
    st.caption("GPT-3's Figure 1.2, on the tiny models: the same prompts (same demonstration seeds) for every model; "
               "the line is the mean over seeds, the band their range.")
    with st.form("fewshot-curve"):
        cols = st.columns(3)
        ks = cols[0].multiselect("Shots", [0, 1, 2, 4, 8, 16, 32], [0, 1, 2, 4, 8], key="fewshot-ks")
        seeds = cols[1].slider("Seeds", 1, 5, 3, key="fewshot-seeds")
        queries = cols[2].slider("Queries per point", 5, 100, 20, step=5, key="fewshot-queries")
        calibrated = st.checkbox("Contextual calibration", False, key="fewshot-calibrate",
                                 disabled=not task.classification,
                                 help="Zhao et al. (2021): divide the label probabilities by those the same "
                                      "demonstrations give content-free queries (N/A, empty, [MASK]), so a prompt's "
                                      "own pull towards one label cancels out.")
        run = st.form_submit_button("Run", icon=":material/play_arrow:", type="primary")
    calibrated = calibrated and task.classification
    settings = (tuple(names), task.name, tuple(ks), seeds, queries, _fields(template), instruction, calibrated)
    if run:
        with common.guard("The accuracy curve"):
            st.session_state[_CURVE] = (settings, run_curve(names, task, ks, seeds, queries, template, instruction,
                                                            calibrated))
    stored = st.session_state.get(_CURVE)
    if stored is not None and stored[0][1] != task.name:  # another task's curve would pass for this one's
        stored = None
    if stored is None:
        st.info("Choose the shots and press **Run**.", icon=":material/play_arrow:")
        return
    if stored[0] != settings:
        st.caption("Showing the last run; press **Run** for the current settings.")
    curve = stored[1]
    for note in curve.notes:
        st.warning(note, icon=":material/warning:")
    common.chart(analysis.prompting.curve_figure(curve.table, curve.task.chance), key="fewshot-curve-figure",
                 data=curve.table, name=f"fewshot-{curve.task.name}")
    if "majority_bias" in curve.table:
        st.caption("Label biases (mean over seeds): **majority** is the share of answers that are the most predicted "
                   "label, **recency** the share equal to the last demonstration's label.")
        biases = curve.table.groupby(["model", "k"], sort=False)[["accuracy", "majority_bias", "recency_bias"]]
        st.table(biases.mean().reset_index().round(3))
    with st.expander("Every answer"):
        st.dataframe(curve.predictions, hide_index=True, width="stretch")
        common.downloads("fewshot-predictions", data=curve.predictions, name=f"fewshot-{curve.task.name}-answers")


def run_curve(names, task, ks, seeds, queries, template, instruction, calibrated=False):
    if not ks:
        raise ExplorerError("choose at least one number of shots")
    models = [common.load_model(n) for n in names]
    total, done = len(models) * len(ks) * seeds, [0]
    bar = st.progress(0.0, text="Asking the models…")

    def progress(evaluation):
        done[0] += 1
        bar.progress(done[0] / total, text=f"{evaluation.model}, k = {evaluation.k}, seed {evaluation.seed}: "
                                           f"{evaluation.accuracy:.0%}")

    with common.collect_warnings(propagate=False):  # the curve's notes say what did not fit, shown below
        curve = analysis.prompting.accuracy_curve(models, task, ks, seeds, queries, template, instruction,
                                                  progress, calibrated)
    bar.empty()
    return curve


# -- induction heads --------------------------------------------------------------------------------------
def induction_heads(names):
    st.header("Induction heads", divider="gray")
    st.caption("Olsson et al. (2022): random tokens shown twice. A model that learns in context predicts the second "
               "copy by looking back, so its loss drops after the repeat starts (the ICL score is the drop); the "
               "heads that look back to the token after the earlier occurrence are induction heads.")
    with common.guard("Measuring induction heads"):
        results = [induction_of(n) for n in names]
        summary = analysis.induction.summary(results)
        st.dataframe(summary, hide_index=True, width="stretch")
        common.chart(analysis.induction.loss_figure(results), key="fewshot-induction-loss", data=summary,
                     name="induction-loss")
        chosen = st.selectbox("Heads of", range(len(results)), format_func=lambda i: results[i].model,
                              key="fewshot-induction-model")
        result = results[chosen]
        common.chart(analysis.induction.heads_figure(result), key="fewshot-induction-heads",
                     data=analysis.induction.heads_table(result), name=f"induction-heads-{result.model}")


@common.cached
def induction_of(name: str):
    return analysis.induction.analyse(common.load_model(name))


if __name__ == "__main__":
    render()
