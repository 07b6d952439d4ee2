"""Compare: one input, every picked model side by side — tokenization, predictions, logit lens, BERT's extras."""
import pandas as pd
import streamlit as st

from explorer import analysis
from explorer.text import BYTE_LEVEL_MARKS, check_text, split_words
from explorer.ui import common

DEFAULT = "The old dog barked at the ___ near the river ."
PAIR = ("The man went to the store .", "He bought a gallon of milk .")


def render():
    st.title("Compare")
    st.markdown("One sentence through every picked model. Put a blank (`___` or `[MASK]`) where a word is missing: "
                "**BERT** fills it from both sides, **GPT, GPT-2 and GPT-3** predict it from the words on its left, "
                "**ELMo** combines a left-to-right and a right-to-left language model.")
    names = common.require_models()
    text = common.sentence("Sentence with one blank", DEFAULT, key="compare-text")
    if text is None:
        return
    tokenization(names, text)
    blanks = len(analysis.prediction.BLANK.findall(text))
    if blanks != 1:
        st.warning(f"Put exactly one blank (`___` or `[MASK]`) in the sentence to see what each model predicts "
                   f"there and its logit lens (found {blanks}).", icon=":material/edit:")
        return
    predictions(names, text)
    lens(names, text)
    elmo_sides(common.picked_where(names, lambda f: f.objective == "bidirectional"), text)
    bert_extras(common.picked_where(names, lambda f: f.pairs))


# -- tokenization ----------------------------------------------------------------------------------------
def tokenization(names, text):
    st.header("Tokenization", divider="gray")
    st.caption("Each model cuts the text its own way: ELMo reads whole words as characters, GPT uses BPE, BERT "
               "WordPiece, GPT-2 and GPT-3 byte-level BPE. The last rows list the special tokens each adds and how "
               "many tokens its network reads.")
    with common.guard("Tokenizing"):
        table = tokenization_table(tuple(names), text)
        if len(table) <= 42:  # a strip per model stays readable up to about forty words
            fig = analysis.contrast.tokenization_figure(readable(table))
            fig.update_layout(height=120 + 42 * len(names), margin=dict(t=90, b=10))
            common.chart(fig, key="compare-tokens-figure", data=table, name="tokenization")
        else:
            st.caption(f"{len(table) - 2} words: shown as a table only.")
            common.downloads("compare-tokens", data=table, name="tokenization")
        with st.expander("As a table", expanded=len(table) > 42):
            st.dataframe(table, hide_index=True, width="stretch")


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """The table's tokens as every page shows them (explorer.text.readable_token)."""
    return table.replace(BYTE_LEVEL_MARKS, regex=True)


@common.cached
def tokenization_table(names: tuple, text: str) -> pd.DataFrame:
    return analysis.contrast.tokenization_table([common.load_model(n) for n in names], text)


# -- predictions -----------------------------------------------------------------------------------------
def predictions(names, text):
    st.header("Predictions", divider="gray")
    top_k = st.slider("Top predictions per model", 3, 15, 5, key="compare-topk")
    results = {}
    for name in names:
        with common.guard("Predicting", name):
            results[name] = blank_predictions(name, text, top_k)
    if not results:
        return
    columns = st.columns(min(3, len(results)))
    for i, (table, fig) in enumerate(results.values()):
        with columns[i % len(columns)]:
            st.plotly_chart(fig, key=f"compare-predictions-{i}", config={"displaylogo": False})
    tables = [table for table, _ in results.values()]
    common.downloads("compare-predictions", data=pd.concat(tables, ignore_index=True), name="predictions")


@common.cached
def blank_predictions(name: str, text: str, top_k: int):
    """A model's top-k for the blank, and its panel (cached with it: a figure costs more than the lookup)."""
    table = analysis.prediction.blank_table([common.load_model(name)], text, top_k)
    table["model"] = common.label(name)
    fig = analysis.prediction.top_k_figure(table.drop(columns="model"),
                                           f"{common.label(name)}<br><sup>{table.context.iloc[0]}</sup>")
    fig.update_layout(height=150 + 26 * top_k, margin=dict(l=10, r=10))
    return table, fig


# -- logit lens --------------------------------------------------------------------------------------------
def lens(names, text):
    transformers = common.picked_where(names, lambda f: f.lens is not None)
    if not transformers:
        return
    st.header("Logit lens", divider="gray")
    st.caption("Each layer read out through the model's own prediction head: at which layer does the final answer "
               "appear? Bars: its probability at each layer; line: its rank (1 = top). ELMo's softmax reads only its "
               "top layer, so it has no lens.")
    target = st.text_input("Target token (empty: each model's own top prediction)", "", key="compare-lens-target")
    columns = st.columns(2)
    for i, name in enumerate(transformers):
        with columns[i % 2], common.guard("The logit lens", name):
            table = logit_lens(name, text, target.strip() or None)
            fig = analysis.prediction.logit_lens_figure(table, common.label(name))
            fig.update_layout(height=360)
            common.chart(fig, key=f"compare-lens-{i}", data=table, name=f"logit-lens-{common.label(name)}")


@common.cached
def logit_lens(name: str, text: str, target: str | None) -> pd.DataFrame:
    return analysis.prediction.logit_lens(common.load_model(name), text, target)


# -- ELMo's two directions ------------------------------------------------------------------------------
def elmo_sides(names, text):
    if not names:
        return
    st.header("ELMo from each side", divider="gray")
    st.caption("ELMo's forward LM reads the words on the left of the blank, its backward LM those on the right; "
               "the paper's biLM combines both.")
    for i, name in enumerate(names):
        with common.guard("ELMo's predictions", name):
            table = elmo_directions(name, text)
            fig = analysis.prediction.top_k_figure(
                table, f"{common.label(name)}: the blank from the left, the right, and both")
            fig.update_layout(height=320)
            common.chart(fig, key=f"compare-elmo-{i}", data=table, name=f"elmo-directions-{common.label(name)}")


@common.cached
def elmo_directions(name: str, text: str) -> pd.DataFrame:
    """The analysis asks for the blank's word number; the blank is a word of its own once written as ___."""
    with_blank = analysis.prediction.BLANK.sub(" ___ ", text)
    words = [w for w, _, _ in split_words(with_blank)]
    return analysis.prediction.elmo_predictions(common.load_model(name), with_blank, words.index("___"))


# -- BERT: next sentence and the input sum ---------------------------------------------------------------
def bert_extras(names):
    if not names:
        return
    st.header("BERT: next sentence and the input sum", divider="gray")
    st.caption("BERT was also trained to tell whether sentence B follows sentence A (next-sentence prediction), and "
               "reads each token as the sum of a token, a segment (A or B) and a position embedding. bert-tiny's "
               "82 % NSP accuracy holds on pairs built as in its training (chunks of several lines packed to 32 or "
               "256 tokens, a random B drawn from anywhere in a corpus that mixes books and Wikipedia, so B's "
               "source gives it away); on short hand-written pairs its head says little: 0.8 % for the BERT "
               "paper's own IsNext example, 0.4 % for its NotNext one, and 58 % accuracy on 60 consecutive-or-random "
               "WikiText line pairs (chance 50 %).")
    cols = st.columns(2)
    first = cols[0].text_input("Sentence A", PAIR[0], key="compare-nsp-a")
    second = cols[1].text_input("Sentence B", PAIR[1], key="compare-nsp-b")
    with common.guard("Next-sentence prediction"):
        first, second = check_text(first, "sentence A"), check_text(second, "sentence B")
        metrics = st.columns(max(3, len(names)))
        for col, name in zip(metrics, names):
            with col, common.guard("Next-sentence prediction", name):
                st.metric(f"{common.label(name)}: P(B follows A)", f"{nsp(name, first, second):.1%}")
        chosen = names[0] if len(names) == 1 else st.selectbox("Input sum of", names, format_func=common.label,
                                                                key="compare-parts-model")
        table = embedding_parts(chosen, first, second)
        fig = analysis.contrast.embedding_parts_figure(table, common.label(chosen))
        fig.update_layout(height=380)
        common.chart(fig, key="compare-parts", data=table, name=f"bert-input-{common.label(chosen)}")


@common.cached
def nsp(name: str, first: str, second: str) -> float:
    return analysis.prediction.nsp_probability(common.load_model(name), first, second)


@common.cached
def embedding_parts(name: str, first: str, second: str) -> pd.DataFrame:
    return analysis.contrast.bert_embedding_parts(common.load_model(name), first, second)


if __name__ == "__main__":
    render()
