"""Models: what is available, and loading a real checkpoint by Hugging Face id or local folder."""
import socket
from urllib.parse import urlparse

import pandas as pd
import streamlit as st
from huggingface_hub import constants, try_to_load_from_cache

from explorer.families import REGISTRY
from explorer.text import check_text
from explorer.ui import common
from explorer import ExplorerError, zoo
from explorer.zoo import KNOWN_REAL, TINY

_LOADED_MESSAGE = "_models_loaded_message"


def render():
    st.title("Models")
    st.markdown("Every page works on the models picked in the sidebar. They come from three places: the tiny "
                "models shipped with this tool, the ones you train on the **Train** page, and real checkpoints "
                "you load here.")
    load_form()
    available_table()
    known_real_table()


def load_form():
    st.header("Load a checkpoint", divider="gray")
    if message := st.session_state.pop(_LOADED_MESSAGE, None):
        st.success(message, icon=":material/check_circle:")
    with st.form("load-model", border=True):
        source = st.text_input(
            "Hugging Face id or local folder", key="model-source",
            placeholder="gpt2, bert-base-uncased, EleutherAI/gpt-neo-125m, or /path/to/checkpoint",
            help="A folder may hold a Hugging Face checkpoint (config.json + safetensors + tokenizer), one of this "
                 "tool's own checkpoints, or AllenNLP ELMo files (options.json + weights.hdf5).")
        submitted = st.form_submit_button("Load", icon=":material/download:", type="primary")
    st.caption("Offline? A Hugging Face id loads only if it is already in this machine's Hugging Face cache. "
               "Otherwise download the model on a connected machine (for example `hf download gpt2 --local-dir "
               "gpt2`), copy the folder here and give its path. Weights are read from safetensors (or AllenNLP "
               "hdf5), never from pickles, and no remote code is run.")
    if submitted:
        load(source)


def load(source: str):
    with common.guard("Loading the model"):
        name = check_text(source, "the model id or folder", fill="give a Hugging Face id or a folder's path").strip()
        if hub_unreachable(name):
            raise ExplorerError(
                f"{common.shorten(name)!r} is not a folder here, and this machine can neither reach the Hugging Face "
                f"hub ({constants.ENDPOINT}) nor find it in its Hugging Face cache. Download it on a connected "
                f"machine (`hf download {common.shorten(name)} --local-dir <folder>`), copy the folder here and "
                "give its path.")
        with st.spinner(f"Loading {name}…"):
            model = common.load_model(name)
        common.add_model(name)
        info = model.describe()
        st.session_state[_LOADED_MESSAGE] = (
            f"Loaded **{common.label(name)}**: {REGISTRY[info['family']].display}, "
            f"{info['params'] / 1e6:.1f}M parameters, {info['layers']} layers. It is now picked in the sidebar.")
        st.rerun()


def hub_unreachable(name: str) -> bool:
    """A Hugging Face id, not in the local cache, on a machine that cannot reach the hub: say so at once
    (the hub client would retry for half a minute first)."""
    if name in TINY or common.is_path(name):
        return False
    try:
        if isinstance(try_to_load_from_cache(name, "config.json"), str):
            return False
    except ValueError:  # not a valid id: explorer.load explains
        return False
    if constants.HF_HUB_OFFLINE:  # told to stay off the network (HF_HUB_OFFLINE=1, as in the tests)
        return True
    try:
        socket.create_connection((urlparse(constants.ENDPOINT).hostname, 443), timeout=3).close()
        return False
    except OSError:
        return True


def available_table():
    st.header("Available now", divider="gray")
    names = common.available_models()
    if not names:
        st.info("No models yet: the shipped tiny models are not trained, and none is loaded.", icon=":material/info:")
        return
    rows = []
    for name in names:
        if name in zoo.PACKAGED:  # not read here: SmolLM2's first load converts it (about a minute)
            family, params = zoo.KNOWN_REAL[name]
            rows.append(dict(name=name, family=family, params=None, source=f"installed package ({params}, offline; "
                                                                              "loads when first picked)"))
            continue
        with common.guard(f"Reading {name}"):
            rows.append(describe(name) | {"source": source_of(name)})
    if rows:
        table = pd.DataFrame(rows)
        st.dataframe(table, hide_index=True, width="stretch",
                     column_config={"params": st.column_config.NumberColumn("parameters", format="compact")})
        common.downloads("models-table", data=table, name="models")


@common.cached
def describe(name: str) -> dict:
    return common.load_model(name).describe() | {"name": common.label(name)}


def source_of(name: str) -> str:
    if name in TINY:
        return "shipped"
    if name.startswith(str(zoo.USER_MODELS)):
        return "trained by you"
    if name in zoo.PACKAGED:
        return "installed package (offline)"
    return "loaded"


def known_real_table():
    st.header("Real checkpoints this tool reads", divider="gray")
    table = pd.DataFrame([dict(checkpoint=k, family=REGISTRY[f].display, parameters=p)
                          for k, (f, p) in KNOWN_REAL.items()])
    st.table(table.set_index("checkpoint"))
    st.caption("Any other BERT encoder or causal language model in Hugging Face format loads too.")


if __name__ == "__main__":
    render()
