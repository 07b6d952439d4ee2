HELP = "trace a text through a model: tokens, per-layer norms and top predictions"


def add_arguments(parser):
    parser.add_argument("model", help="shipped name, checkpoint folder or Hugging Face id")
    parser.add_argument("text")
    parser.add_argument("--pair", help="second sentence (BERT next-sentence prediction)")
    parser.add_argument("--top", type=int, default=3, help="predictions shown per position")


def run(args):
    import pandas as pd

    from ..zoo import load

    model = load(args.model)
    tr = model.trace(args.text, pair=args.pair)
    table = pd.DataFrame({"token": tr.tokens, "word": ["" if w is None else tr.words[w] for w in tr.word_ids]})
    for layer, norms in enumerate(tr.hidden.norm(dim=-1)):
        table[f"|h{layer}|"] = norms.numpy().round(1)
    scores = tr.logits[0] if tr.logits is not None and tr.logits.dim() == 3 else tr.logits
    if scores is not None:
        top = scores.softmax(-1).topk(args.top)
        table["top predictions"] = [
            ", ".join(f"{model.tokenizer.convert_ids_to_tokens(int(i))} {p:.2f}" for p, i in zip(ps, ids))
            for ps, ids in zip(top.values.tolist(), top.indices)
        ]
    print(f"{model.name} ({model.family}): {len(tr.tokens)} tokens, {tr.n_layers} layers"
          + (" [input truncated]" if tr.truncated else ""))
    if tr.nsp_logits is not None:
        print(f"P(IsNext) = {tr.nsp_logits.softmax(-1)[0]:.3f}")
    print(table.to_string(index=False))
    return 0
