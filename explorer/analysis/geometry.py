"""Layer geometry: where a word's vectors sit, layer by layer, coloured by sense or part of speech.

For a set of points (a target word in several contexts, or every word of some tagged sentences),
each layer's vectors are projected to 2-D with PCA and UMAP. Consecutive layers' layouts are
rotated onto each other (orthogonal Procrustes), so the animation travels through the layers
instead of flipping axes. A separation number per layer gives the picture a figure behind it:
the silhouette (cosine) of the labels, and the leave-one-out nearest-centroid accuracy.
"""
import itertools
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from plotly.colors import qualitative
from scipy.linalg import orthogonal_procrustes
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score

from ..data.conllu import TaggedSentence
from ..data.senses import SenseSentence
from ..errors import ExplorerError
from ..families.base import Model
from ..features import extract_features

METHODS = ("pca", "umap")


@dataclass
class Point:
    words: list[str]
    index: int
    label: str


@dataclass
class LayerGeometry:
    """2-D layouts per method ([n_layers + 1, n_points, 2]), the points' labels, and separation per layer."""

    model: str
    title: str
    points: list[Point]
    coords: dict[str, np.ndarray]
    separation: pd.DataFrame  # columns: layer, metric, value, n


def sense_points(sentences: list[SenseSentence], lemma: str) -> list[Point]:
    """Every context of ``lemma`` in a sense-labelled set, labelled by its (first) sense."""
    points = [Point(s.words, inst.start, inst.keys[0].split("%", 1)[-1])
              for s in sentences for inst in s.instances if inst.lemma == lemma]
    if not points:
        raise ExplorerError(f"no contexts of {lemma!r} in the set")
    return points


def tag_points(sentences: list[TaggedSentence], limit: int = 600, tagset: str = "upos") -> list[Point]:
    """Every word of the first sentences (up to ``limit`` words), labelled by its tag."""
    points = []
    for s in sentences:
        for i, tag in enumerate(s.tags(tagset)):
            if len(points) >= limit:
                return points
            points.append(Point(s.words, i, tag))
    return points


def user_points(texts: list[str], word: str, labels: list[str] | None = None) -> list[Point]:
    """The user's own sentences: the first occurrence of ``word`` (case-insensitive) in each."""
    from ..text import split_words

    points = []
    for n, text in enumerate(texts):
        words = [w for w, _, _ in split_words(text)]
        hits = [i for i, w in enumerate(words) if w.lower() == word.lower()]
        if not hits:
            raise ExplorerError(f"sentence {n + 1} does not contain {word!r}: {text[:60]!r}")
        points.append(Point(words, hits[0], labels[n] if labels else f"sentence {n + 1}"))
    return points


def layer_geometry(model: Model, points: list[Point], *, title: str = "", methods=METHODS, pool: str = "first",
                   seed: int = 0, cache_dir=None) -> LayerGeometry:
    if len(points) < 4:
        raise ExplorerError(f"{len(points)} points are too few for a layout: give at least 4 contexts")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ExplorerError(f"unknown projection {unknown[0]!r}: use {' or '.join(METHODS)}")
    feats = extract_features(model, [p.words for p in points], pool=pool, select=[[p.index] for p in points],
                             cache_dir=cache_dir)
    if feats.missing.any():
        raise ExplorerError(f"{int(feats.missing.sum())} target words fall outside {model.name}'s context")
    layers = [feats.layer(layer).numpy() for layer in range(feats.n_layers)]
    labels = np.array([p.label for p in points])
    coords = {m: _aligned([_project(x, m, seed) for x in layers]) for m in methods}
    rows = []
    for layer, x in enumerate(layers):
        rows += [dict(layer=layer, metric=k, value=v, n=len(points)) for k, v in separation(x, labels).items()]
    return LayerGeometry(model.name, title, points, coords, pd.DataFrame(rows))


def separation(x: np.ndarray, labels: np.ndarray) -> dict:
    """Silhouette (cosine) and leave-one-out nearest-centroid accuracy; NaN with fewer than two labels."""
    names, y = np.unique(labels, return_inverse=True)
    if len(names) < 2 or len(names) >= len(labels):
        return dict(silhouette=float("nan"), centroid_accuracy=float("nan"))
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    sums = np.zeros((len(names), x.shape[1]))
    np.add.at(sums, y, unit)
    counts = np.bincount(y, minlength=len(names)).astype(float)
    # Leave one out: each point is compared with its own class's centroid computed without it.
    def normalise(v):
        return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)

    sims = unit @ normalise(sums / counts[:, None]).T
    own = np.einsum("nd,nd->n", unit, normalise(sums[y] - unit))
    sims[np.arange(len(y)), y] = np.where(counts[y] > 1, own, -np.inf)
    return dict(silhouette=float(silhouette_score(x, y, metric="cosine")),
                centroid_accuracy=float(np.mean(sims.argmax(1) == y)))


def _project(x: np.ndarray, method: str, seed: int) -> np.ndarray:
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(x)
    import umap

    with warnings.catch_warnings():  # umap warns that a fixed seed turns off parallelism: that is the point
        warnings.simplefilter("ignore")
        reducer = umap.UMAP(n_components=2, n_neighbors=min(15, len(x) - 1), metric="cosine", random_state=seed)
        return reducer.fit_transform(x)


def _aligned(layouts: list[np.ndarray]) -> np.ndarray:
    """Centre and scale each layout, then rotate/reflect it onto the previous layer's."""
    out = []
    for y in layouts:
        y = y - y.mean(0)
        y = y / max(np.sqrt((y ** 2).sum(1).mean()), 1e-12)
        if out:
            rotation, _ = orthogonal_procrustes(y, out[-1])
            y = y @ rotation
        out.append(y)
    return np.stack(out)


def geometry_figure(geom: LayerGeometry, method: str = "pca"):
    """One scatter per layer as animation frames (slider and play button), one colour per label."""
    import plotly.graph_objects as go

    if method not in geom.coords:
        raise ExplorerError(f"no {method} layout computed: use one of {', '.join(geom.coords)}")
    xy = geom.coords[method]
    labels = [p.label for p in geom.points]
    names = sorted(set(labels))
    hover = [" ".join(f"[{w}]" if i == p.index else w for i, w in enumerate(p.words)) for p in geom.points]
    members = {name: [i for i, lab in enumerate(labels) if lab == name] for name in names}
    colours = dict(zip(names, itertools.cycle(qualitative.Dark24)))  # 17 UD tags get 17 distinct colours

    def traces(layer):
        return [go.Scatter(x=xy[layer, idx, 0], y=xy[layer, idx, 1], mode="markers", name=name,
                           text=[hover[i] for i in idx], hovertemplate="%{text}<extra>" + name + "</extra>",
                           marker=dict(size=9, opacity=0.8, color=colours[name]))
                for name, idx in members.items()]

    sep = geom.separation.pivot(index="layer", columns="metric", values="value")
    captions = [f"layer {layer}: silhouette {_shown(sep.silhouette[layer], '.2f')}, "
                f"nearest-centroid accuracy {_shown(sep.centroid_accuracy[layer], '.0%')}" for layer in range(len(xy))]
    frames = [go.Frame(data=traces(layer), name=str(layer), layout=dict(title_text=f"{geom.title} — {captions[layer]}"))
              for layer in range(len(xy))]
    pad = 0.1 * (xy.max() - xy.min())
    fig = go.Figure(data=traces(0), frames=frames)
    fig.update_layout(
        title=f"{geom.title} — {captions[0]}", template="plotly_white",
        xaxis=dict(range=[xy[..., 0].min() - pad, xy[..., 0].max() + pad], title=f"{method} 1"),
        yaxis=dict(range=[xy[..., 1].min() - pad, xy[..., 1].max() + pad], title=f"{method} 2"),
        updatemenus=[dict(type="buttons", showactive=False, x=0, y=-0.1, xanchor="left", yanchor="top", buttons=[
            dict(label="play", method="animate", args=[None, dict(frame=dict(duration=900), transition=dict(duration=400),
                                                                  fromcurrent=True)])])],
        sliders=[dict(active=0, currentvalue=dict(prefix="layer "), pad=dict(t=40), x=0.1, len=0.9,
                      steps=[dict(label=str(layer), method="animate",
                                  args=[[str(layer)], dict(mode="immediate", frame=dict(duration=400),
                                                           transition=dict(duration=300))])
                             for layer in range(len(xy))])])
    return fig


def _shown(value: float, spec: str) -> str:
    return "— (needs two labels)" if np.isnan(value) else format(value, spec)


METRIC_NAMES = {"silhouette": "silhouette (cosine)", "centroid_accuracy": "nearest-centroid accuracy"}


def separation_figure(geom: LayerGeometry):
    import plotly.express as px

    table = geom.separation.assign(metric=geom.separation.metric.map(METRIC_NAMES))
    return px.line(table, x="layer", y="value", color="metric", markers=True, template="plotly_white",
                   labels=dict(metric="", value="separation"),
                   title=f"{geom.title}: how well the layers separate the labels")
