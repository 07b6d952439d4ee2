HELP = "attention of a transformer on a text: matrices, rollout, flow, head scores and figures written to --out"


def add_arguments(parser):
    parser.add_argument("model", help="shipped name, checkpoint folder or Hugging Face id (a transformer)")
    parser.add_argument("text")
    parser.add_argument("--out", required=True, help="folder for the results")
    parser.add_argument("--layer", type=int, default=-1, help="layer of the head view (default: the last)")
    parser.add_argument("--head", type=int, default=0, help="head of the single-head heatmap (in --layer)")
    parser.add_argument("--flow", type=int, nargs="*", metavar="POS",
                        help="output token positions for attention flow (default: all of them if that is "
                             "fast enough, else the last token, else none)")
    parser.add_argument("--png", action="store_true", help="also write the figures as PNG (needs Chromium)")


def _flow(att, positions):
    """Flow for the asked positions; by default the largest request that fits (all, then the last token)."""
    from ..analysis.attention import attention_flow
    from ..errors import ExplorerError

    if positions:
        return attention_flow(att, positions), None
    for outputs in (None, [att.shape[-1] - 1]):
        try:
            return attention_flow(att, outputs), None
        except ExplorerError as e:
            reason = str(e)
    return None, reason


def run(args):
    from pathlib import Path

    from ..analysis import attention as A
    from ..analysis.export import save_data, save_figures
    from ..zoo import load

    model = load(args.model)
    trace = model.trace(args.text, logits=False)
    att = A.attention(trace)
    n_layers = att.shape[0]
    layer = args.layer % n_layers if -n_layers <= args.layer < n_layers else args.layer
    out = Path(args.out)
    rolled = A.rollout(att)
    flow, no_flow = _flow(att, args.flow)
    scores = A.head_scores(trace, model)
    written = [
        save_data(dict(tokens=trace.tokens, attentions=att, rollout=rolled,
                       **({} if flow is None else dict(flow=flow.flow, flow_outputs=flow.outputs))),
                  out / "attention.npz"),
        save_data(dict(model=model.name, tokens=trace.tokens, shape=list(att.shape), rollout_top=rolled[-1],
                       flow=flow, truncated=trace.truncated), out / "attention.json"),
        save_data(scores, out / "head_scores.csv"),
    ]
    figures = {
        f"head_view_layer{layer}": A.head_view(trace, layer),
        "model_view": A.model_view(trace),
        f"head_layer{layer}_head{args.head}": A.head_heatmap(trace, layer, args.head),
        "rollout": A.rollout_figure(trace),
    }
    if flow is not None:
        figures["flow"] = A.flow_figure(flow, trace.tokens, model.name)
    png = save_figures(figures, out, args.png)
    exts = ("html", "png") if png == "written" else ("html",)
    written += [out / f"{name}.{ext}" for name in figures for ext in exts]
    print(f"{model.name}: {len(trace.tokens)} tokens, {n_layers} layers x {att.shape[1]} heads"
          + (" [input truncated]" if trace.truncated else ""))
    if no_flow:
        print(f"attention flow skipped: {no_flow}")
    if png.startswith("skipped"):
        print(f"PNG figures {png}")
    for column in ("previous_token", "to_first", "induction"):
        if column in scores:
            best = scores.loc[scores[column].idxmax()]
            print(f"strongest {column.replace('_', '-')} head: layer {best['layer']:.0f} head {best['head']:.0f} "
                  f"({best[column]:.3f})")
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
