"""Compare: one input, every picked model side by side — tokenization, predictions, logit lens."""
import html

import pandas as pd
import streamlit as st

from explorer.ui import common

DEFAULT = "The old dog barked at the [MASK] by the river bank ."


def render():
    st.title("Compare")
    st.markdown("One sentence through every picked model. Write `[MASK]` (or `___`) where a word is missing: BERT "
                "fills it from both sides, GPT and GPT-2/3 predict it from the left, ELMo from each side separately.")
    names = common.require_models()
    text = common.sentence("Sentence", DEFAULT, key="compare-text")
    if text is None:
        return
    tokenization(names, text)


def tokenization(names: list[str], text: str):
    st.header("Tokenization", divider="gray")
    st.caption("Each model cuts the text its own way: whole words (ELMo, which then reads their characters), "
               "BPE (GPT), WordPiece (BERT), byte-level BPE (GPT-2, GPT-3). Tokens of one word share a colour.")
    rows = []
    for name in names:
        with common.guard(f"Tokenizing with {common.label(name)}"):
            table = tokens_of(name, text)
            st.markdown(f"**{common.label(name)}** · {len(table)} tokens")
            st.markdown(token_chips(table), unsafe_allow_html=True)
            rows.append(table.assign(model=common.label(name)))
    if rows:
        common.downloads("compare-tokens", data=pd.concat(rows, ignore_index=True), name="tokenization")


@common.cached
def tokens_of(name: str, text: str) -> pd.DataFrame:
    trace = common.load_model(name).trace(text, attentions=False, logits=False)
    return pd.DataFrame({"token": trace.tokens,
                         "word": [None if w is None else trace.words[w] for w in trace.word_ids],
                         "word_index": trace.word_ids})


_COLOURS = ("#dbeaf2", "#f6e3c8")


def token_chips(table: pd.DataFrame) -> str:
    """Tokens as chips; a word's tokens share a colour, special tokens are grey."""
    chips = []
    for token, word in zip(table["token"], table["word_index"]):
        colour = "#e4e4e4" if pd.isna(word) else _COLOURS[int(word) % 2]
        chips.append(f'<span style="background:{colour};border-radius:6px;padding:2px 6px;margin:2px;'
                     f'display:inline-block;font-family:monospace;font-size:0.9rem">{html.escape(str(token))}</span>')
    return f'<div style="line-height:2.1">{"".join(chips)}</div>'


if __name__ == "__main__":
    render()
