HELP = "what models predict for a [MASK] or blank (___), or next: top-k tables; repeat --model to compare"


def add_arguments(parser):
    parser.add_argument("model", help="shipped name, checkpoint folder or Hugging Face id")
    parser.add_argument("text", help="a sentence with [MASK] or ___ (causal LMs and ELMo: or none, to predict "
                                     "the next token)")
    parser.add_argument("--model", dest="more", action="append", default=[], metavar="M",
                        help="another model to ask the same (repeatable); the sentence then needs one blank")
    parser.add_argument("--top", type=int, default=5, help="predictions shown (default 5)")
    parser.add_argument("--lens", action="store_true", help="also print the logit lens: the top prediction's "
                                                             "rank and probability at every layer")


def run(args):
    from ..analysis.prediction import blank_table, logit_lens, predict
    from ..zoo import load

    models = [load(name) for name in [args.model, *args.more]]
    if len(models) > 1:
        print(blank_table(models, args.text, args.top).to_string(index=False, float_format="{:.4f}".format))
    else:
        table = predict(models[0], args.text, args.top).drop(columns="token_id")
        print(f"{models[0].name} ({models[0].family})")
        print(table.to_string(index=False, float_format="{:.4f}".format))
    if args.lens:
        for model in models:
            if model.spec.lens is None:
                print(f"\n{model.name}: no logit lens (ELMo's softmax reads only its top layer)")
                continue
            print(f"\nlogit lens, {model.name}:")
            print(logit_lens(model, args.text).to_string(index=False, float_format="{:.4f}".format))
    return 0
