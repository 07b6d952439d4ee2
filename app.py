"""Linguistic Travelling in the browser. Navigation only: every page is a module in explorer/ui."""
import streamlit as st

from explorer.ui import common

st.set_page_config(page_title="Linguistic Travelling", page_icon="🧭", layout="wide")

PAGES = {
    "Explore": [
        st.Page("explorer/ui/journey.py", title="Journey", icon=":material/route:", default=True),
        st.Page("explorer/ui/compare.py", title="Compare", icon=":material/view_column:"),
        st.Page("explorer/ui/attention.py", title="Attention", icon=":material/visibility:"),
        st.Page("explorer/ui/attribution.py", title="Attribution", icon=":material/highlight:"),
        st.Page("explorer/ui/layers.py", title="Layer travel", icon=":material/stacks:"),
    ],
    "Experiment": [
        st.Page("explorer/ui/probing.py", title="Probing lab", icon=":material/science:"),
        st.Page("explorer/ui/fewshot.py", title="Few-shot lab", icon=":material/school:"),
        st.Page("explorer/ui/use_gain.py", title="Use & gain", icon=":material/trending_up:"),
    ],
    "Your models": [
        st.Page("explorer/ui/models.py", title="Models", icon=":material/deployed_code:"),
        st.Page("explorer/ui/train.py", title="Train", icon=":material/model_training:"),
    ],
}

page = st.navigation(PAGES, expanded=True)
common.sidebar()
page.run()
