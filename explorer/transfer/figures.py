"""The use-and-gain figures: learning curves per model and mode, and the layer weights ELMo's mix learned."""
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from .results import summary

DASH = {"finetune": "solid", "features": "dashdot", "scratch": "dash"}  # scratch dashed: the denominator
PROMPTED = {"zeroshot": "dot", "fewshot": "longdashdot"}
COLOURS = qualitative.Plotly


def curve_figure(df, title: str = "", published: dict | None = None) -> go.Figure:
    """Accuracy against labelled examples (log axis): a line per model x mode, baselines as grey bands, zero- and
    few-shot (which use no training set) as level lines across; ``published`` accuracies as thin marks at the top."""
    s = summary(df)
    x_of = df.assign(n=df.n.fillna(-1).astype(int)).groupby("n").n_train.max()  # "all" sits at its real size
    s["x"] = [x_of[-1 if n == "all" else n] for n in s.n]
    trained = s[s["mode"].isin(list(DASH))]
    span = [trained.x.min(), trained.x.max()] if not trained.empty else [1, 10]
    fig = go.Figure()
    for method, rows in s[s["mode"] == "baselines"].groupby("method", sort=False):
        rows = rows.sort_values("x")
        low, high = 100 * (rows["mean"] - rows["std"].fillna(0)), 100 * (rows["mean"] + rows["std"].fillna(0))
        fig.add_scatter(x=[*rows.x, *rows.x[::-1]], y=[*high, *low[::-1]], fill="toself", mode="lines",
                        line=dict(width=0), fillcolor="rgba(120,120,120,0.15)", hoverinfo="skip", showlegend=False)
        fig.add_scatter(x=rows.x, y=100 * rows["mean"], mode="lines", name=f"baseline: {method}",
                        line=dict(color="grey", width=1))
    models = [m for m in s.model.unique() if m]
    for (model, mode), rows in s[s.model != ""].groupby(["model", "mode"], sort=False):
        colour = COLOURS[models.index(model) % len(COLOURS)]
        rows = rows.sort_values("x")
        if mode in PROMPTED:
            label = f"{model} {mode}" + (f" (k = {rows.n.iloc[0]})" if mode == "fewshot" else "")
            fig.add_scatter(x=span, y=[100 * rows["mean"].iloc[0]] * 2, mode="lines", name=label, legendgroup=model,
                            line=dict(color=colour, dash=PROMPTED[mode], width=1.5))
            continue
        fig.add_scatter(x=rows.x, y=100 * rows["mean"], mode="lines+markers", name=f"{model} {mode}", legendgroup=model,
                        line=dict(color=colour, dash=DASH.get(mode, "solid")),
                        error_y=dict(type="data", array=100 * rows["std"].fillna(0), thickness=1, width=3))
    for name, accuracy in (published or {}).items():  # close together: one label over the highest
        fig.add_hline(y=100 * accuracy, line=dict(color="darkgrey", width=1, dash="dot"))
    if published:
        text = "published, full size: " + " · ".join(f"{n} {100 * a:.1f}" for n, a in published.items())
        fig.add_annotation(x=0, xref="paper", xanchor="left", y=100 * max(published.values()), yanchor="bottom",
                           text=text, showarrow=False, font=dict(size=10, color="grey"))
    fig.update_layout(title=title, xaxis=dict(type="log", title="labelled training examples (log scale)"),
                      yaxis=dict(title="accuracy %"), legend=dict(font=dict(size=11), groupclick="toggleitem"),
                      height=520,
                      margin=dict(t=50 if title else 20, b=40))
    return fig


def mix_figure(df, probe=None) -> go.Figure | None:
    """The softmax layer weights the frozen-feature mode learned (mean over seeds and sizes), per model, on a
    normalised depth axis so 3-layer ELMo and 9-layer GPT-3-tiny line up; beside them, when given, each layer's
    probe accuracy (``probe``: model, layer, accuracy). None when no run learned a mix."""
    rows = df[(df["mode"] == "features") & df.mix_weights.notna()] if "mix_weights" in df else df.iloc[:0]
    if rows.empty:
        return None
    with_probe = probe is not None and not probe.empty
    fig = make_subplots(rows=1, cols=2 if with_probe else 1, horizontal_spacing=0.1,
                        subplot_titles=("mix weight s_j the task learned", "UPOS probe accuracy of layer j")
                        if with_probe else None)
    for i, (model, group) in enumerate(rows.groupby("model", sort=False)):
        colour = COLOURS[i % len(COLOURS)]
        weights = group.mix_weights.apply(list).tolist()
        mean = [sum(w[j] for w in weights) / len(weights) for j in range(len(weights[0]))]
        depth = [j / (len(mean) - 1) for j in range(len(mean))]
        fig.add_scatter(x=depth, y=mean, mode="lines+markers", name=model, legendgroup=model, line=dict(color=colour),
                        customdata=list(range(len(mean))), hovertemplate="layer %{customdata}: %{y:.3f}", row=1, col=1)
        layers = probe[probe.model == model].sort_values("layer") if with_probe else []
        if len(layers):
            fig.add_scatter(x=layers.layer / layers.layer.max(), y=100 * layers.accuracy, mode="lines+markers",
                            name=model, legendgroup=model, showlegend=False, line=dict(color=colour, dash="dot"),
                            customdata=layers.layer, hovertemplate="layer %{customdata}: %{y:.1f} %", row=1, col=2)
    fig.update_xaxes(title="depth (0 = input layer, 1 = top layer)", range=[-0.03, 1.03])
    fig.update_yaxes(title="weight (softmax, sums to 1)", row=1, col=1)
    if with_probe:
        fig.update_yaxes(title="accuracy %", row=1, col=2)
    fig.update_layout(height=400, margin=dict(t=40, b=40))
    return fig
