"""`python -m explorer transfer --task sst2|upos|FILE --model M [--model M2 ...] --mode ... --n ... --out DIR`."""
HELP = "what pretraining gains: features, fine-tuning, prompting and baselines against the same network from scratch"


def add_arguments(parser):
    parser.add_argument("--task", required=True, help="sst2 (train -> dev), upos (UD English-EWT train -> test), "
                        "or a file: CoNLL-U (token task) or CSV/TSV with text[,text_b],label (sentence task)")
    parser.add_argument("--test", help="the test file for a --task FILE (default: a fifth of it held out)")
    parser.add_argument("--model", action="append", default=[],
                        help="shipped name, checkpoint folder or Hugging Face id (repeat to compare models)")
    parser.add_argument("--mode", default="features,finetune,scratch,baselines",
                        help="comma-separated: features, finetune, scratch, zeroshot, fewshot, baselines")
    parser.add_argument("--n", default="100,300,1000,3000,10000,all",
                        help="training sizes (rows; sentences for a token task), comma-separated; 'all' for all")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per size (subset, initialisation and order)")
    parser.add_argument("--shots", type=int, default=4, help="fewshot: demonstrations per prompt")
    parser.add_argument("--out", required=True, help="result folder: results.jsonl (a rerun skips finished cells)")
    parser.add_argument("--epochs", type=int, default=3, help="finetune and scratch: passes over the data")
    parser.add_argument("--lr", type=float, default=1e-4, help="finetune and scratch: peak learning rate")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lm-weight", type=float, default=0.5, help="GPT's auxiliary LM loss weight (0: off)")
    parser.add_argument("--hidden", type=int, default=0, help="a one-hidden-layer task model of this width")
    parser.add_argument("--train-limit", type=int, help="read only the first N training rows")
    parser.add_argument("--test-limit", type=int, help="score only the first N test rows")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (for a log file)")
    parser.add_argument("--save-models", action="store_true",
                        help="keep every fine-tuned (and scratch) classifier under OUT/checkpoints")


def run(args):
    from ..errors import ExplorerError
    from ..transfer import curve, data, results
    from ..transfer.network import TrainSettings
    from ..zoo import load

    modes = [m.strip() for m in args.mode.split(",") if m.strip()]
    if not args.model and set(modes) != {"baselines"}:
        raise ExplorerError("give at least one --model (only the baselines need none)")
    try:
        ns = [None if n.strip() == "all" else int(n) for n in args.n.split(",")]
    except ValueError:
        raise ExplorerError(f"--n must be comma-separated integers or 'all', not {args.n!r}") from None
    if any(n is not None and n < 1 for n in ns) or args.seeds < 1:
        raise ExplorerError("--n sizes and --seeds must be at least 1")
    readers = {"sst2": data.sst2, "upos": data.upos}
    if args.task in readers:
        task = readers[args.task](args.train_limit, args.test_limit)
    else:
        task = data.read_task(args.task, args.test, args.train_limit, args.test_limit)
    settings = TrainSettings(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, lm_weight=args.lm_weight,
                             hidden=args.hidden).check()
    models = [load(name) for name in args.model]
    df = curve.run_curve(task, models, modes, ns, list(range(args.seeds)), args.out, settings, args.shots,
                         args.save_models, progress=not args.no_progress)
    print(results.summary(df).to_string(index=False))
    gains = results.gains(df)
    if not gains.empty:
        print("\ngain over the same network trained from scratch (accuracy points):")
        print(gains.to_string(index=False))
    print(f"\n{len(df)} results in {args.out}/{results.RESULTS}")
    return 0
