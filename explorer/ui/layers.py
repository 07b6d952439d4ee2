"""Layer travel: a word in many contexts, through the layers — do its senses (or parts of speech) pull apart?"""
import pandas as pd
import streamlit as st

from explorer import analysis
from explorer.data import conllu
from explorer.data import senses as sense_files
from explorer.ui import common

SOURCES = {"senses": "An ambiguous word (demo sense set)", "pos": "Every word, by part of speech (demo POS set)",
           "own": "Your own sentences"}
OWN_DEFAULT = """river | We sat on the bank of the river and watched the boats .
river | The flood washed away the bank near the old mill .
river | Reeds grow thick along the bank of the stream .
river | She fished from the muddy bank all afternoon .
money | He opened an account at the bank last week .
money | The bank raised its interest rates again .
money | I need to go to the bank to deposit this cheque .
money | The bank approved the loan for their new house ."""


def render():
    st.title("Layer travel")
    st.markdown("Follow one word through the layers. Each point is the word in one context; colours are its senses "
                "(or parts of speech). Press **play** or drag the slider to travel from the input layer upwards: do the "
                "senses drift apart in the upper layers, as in large contextual models? With a few sentences and a "
                "tiny model they may not; the numbers in the title, silhouette and nearest-centroid accuracy per "
                "layer, say how far apart they are. Layer 0 reads "
                "each word alone: every context of a word is one point there (ELMo's character layer shows it "
                "best).")
    names = common.require_models()
    name = st.selectbox("Model", names, format_func=common.label, key="layers-model")
    cols = st.columns([2, 1])
    source = cols[0].radio("Points", list(SOURCES), format_func=SOURCES.get, key="layers-source")
    method = cols[1].radio("Projection", ["pca", "umap"], key="layers-method", format_func=str.upper,
                           help="PCA is linear and instant; UMAP keeps neighbourhoods (slower the first time).")
    points = choose_points(source)
    if points is None:
        return
    geom = None
    with common.guard("Travelling through the layers"):
        geom = layout(name, points, method)
        travel = analysis.geometry.geometry_figure(geom, method)
        travel.update_layout(height=580)
        common.chart(travel, key="layers-travel", name=f"layer-travel-{geom.model}", data=coordinates(geom, method))
        separation = analysis.geometry.separation_figure(geom)
        separation.update_layout(height=320)
        separation.update_xaxes(dtick=1)
        common.chart(separation, key="layers-separation", data=geom.separation, name=f"layer-separation-{geom.model}")
    if geom is not None and len(names) > 1:  # the points are good: show every model's separation
        compare_models(names, points)


def choose_points(source):
    """The points as a hashable description: (source, lemma or limit or (word, sentences, labels))."""
    if source == "senses":
        lemmas = demo_lemmas()
        lemma = st.selectbox("Word", lemmas, index=lemmas.index("bank") if "bank" in lemmas else 0,
                             key="layers-lemma")
        return ("senses", lemma)
    if source == "pos":
        return ("pos", st.slider("Words", 100, 600, 300, step=50, key="layers-pos-limit"))
    word = st.text_input("Word", "bank", key="layers-word").strip()
    text = st.text_area("Sentences, one a line (optionally `label | sentence`)", OWN_DEFAULT, height=220,
                        key="layers-sentences")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not word or not lines:
        st.error("Give a word and at least four sentences that contain it.", icon=":material/error:")
        return None
    labelled = [line.split("|", 1) if "|" in line else (None, line) for line in lines]
    n_labelled = sum(bool(label) for label, _ in labelled)
    if 0 < n_labelled < len(lines):
        st.warning(f"{n_labelled} of {len(lines)} lines have a `label |`: label every line (or none) to colour "
                   "and separate the labels; the lines are shown unlabelled for now.", icon=":material/label:")
    labels = tuple(label.strip() for label, _ in labelled) if n_labelled == len(lines) else None
    return ("own", (word, tuple(sentence.strip() for _, sentence in labelled), labels))


@st.cache_data(show_spinner=False)
def demo_lemmas() -> list[str]:
    return sorted({inst.lemma for s in demo_senses() for inst in s.instances})


def demo_senses():
    return (sense_files.read_sense_file(sense_files.DEMO_SENSES_TRAIN)
            + sense_files.read_sense_file(sense_files.DEMO_SENSES_TEST))


def make_points(points):
    kind, spec = points
    if kind == "senses":
        return analysis.geometry.sense_points(demo_senses(), spec), f"'{spec}' by sense"
    if kind == "pos":
        sentences = conllu.read_pos_file(conllu.DEMO_POS_TEST)
        return analysis.geometry.tag_points(sentences, limit=spec), "words by part of speech"
    word, sentences, labels = spec
    found = analysis.geometry.user_points(list(sentences), word, list(labels) if labels else None)
    return found, f"'{word}' in your sentences"


@common.cached
def layout(name: str, points, method: str):
    found, title = make_points(points)
    return analysis.geometry.layer_geometry(common.load_model(name), found, title=f"{common.label(name)}: {title}",
                                            methods=(method,))


def coordinates(geom, method: str) -> pd.DataFrame:
    """The layout as a table: one row per point and layer."""
    xy = geom.coords[method]
    return pd.DataFrame([dict(layer=layer, label=p.label, context=" ".join(p.words), word=p.words[p.index],
                              x=float(xy[layer, i, 0]), y=float(xy[layer, i, 1]))
                         for layer in range(len(xy)) for i, p in enumerate(geom.points)])


def compare_models(names, points):
    st.header("Every picked model", divider="gray")
    st.caption("Nearest-centroid accuracy per layer (leave one out) for each picked model, layers as a share of the "
               "model's depth: where does each model separate the labels best?")
    tables = []
    for name in names:
        with common.guard("Travelling through the layers", name):
            geom = layout(name, points, "pca")
            tables.append(geom.separation.assign(model=common.label(name), task="geometry"))
    if tables:
        results = pd.concat(tables, ignore_index=True)
        fig = analysis.probing.layer_figure(results, "geometry", "centroid_accuracy", relative=True,
                                            metric_name="nearest-centroid accuracy",
                                            title="Separation of the labels by layer, every picked model")
        common.chart(fig, key="layers-models", data=results, name="layer-separation-models")


if __name__ == "__main__":
    render()
