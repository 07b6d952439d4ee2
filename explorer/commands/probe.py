"""`python -m explorer probe pos|wsd|wic|geometry --model M [--model M2 ...] --train FILE --test FILE --out DIR`."""
import sys
from pathlib import Path

HELP = "probe every layer: POS tags (with control task), word senses (WSD, WiC) and layer geometry"

DEFAULT_OUT = "probe-results"


def add_arguments(parser):
    parser.add_argument("task", choices=["pos", "wsd", "wic", "geometry"],
                        help="pos: tag probe per layer; wsd: nearest-centroid senses per layer; wic: same sense "
                             "or not; geometry: 2-D layouts of one word's contexts per layer")
    parser.add_argument("--model", action="append", required=True,
                        help="shipped name, checkpoint folder or Hugging Face id (repeat to compare models)")
    parser.add_argument("--train", help="pos: .conllu, PTB .pos, word/TAG or whitespace column file; wsd: *.data.xml "
                                        "(key file beside it), Senseval lexical-sample XML (answers inline or in "
                                        "NAME.key) or sense .tsv; wic: WiC *.data.txt or a sense file. Default: the "
                                        "demo sets")
    parser.add_argument("--test", help="the evaluation file, same formats as --train (geometry: the contexts)")
    parser.add_argument("--out", help=f"result folder (default: {DEFAULT_OUT}/TASK)")
    parser.add_argument("--pool", choices=["first", "mean"], default="first", help="sub-token pooling per word")
    parser.add_argument("--tagset", choices=["upos", "xpos"], default="upos", help="pos: which CoNLL-U tag column")
    parser.add_argument("--word-col", type=int, metavar="N", help="pos: read a whitespace column file (CoNLL-2000: "
                                                                   "word POS chunk) with the word in column N (from 0; "
                                                                   "default 0)")
    parser.add_argument("--tag-col", type=int, metavar="N", help="pos: ... and the tag in column N (default 1)")
    parser.add_argument("--train-limit", type=int, help="use at most this many training sentences "
                                                         "(wsd: a random sample, e.g. to cap SemCor)")
    parser.add_argument("--test-limit", type=int, help="pos: use only the first N test sentences")
    parser.add_argument("--wordnet", help="wsd: Open English WordNet's source YAML (zip or folder); lemmas SemCor "
                                          "never annotates fall back to their first WordNet sense")
    parser.add_argument("--word", default="bank", help="geometry: the word whose contexts are laid out")
    parser.add_argument("--mlp", type=int, default=0, metavar="WIDTH",
                        help="pos: also train a one-hidden-layer MLP probe of this width")
    parser.add_argument("--no-mix", action="store_true", help="skip the learned scalar mix over layers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", help="feature cache folder (default: ~/.linguistic_travelling/cache/features)")
    parser.add_argument("--no-png", action="store_true", help="write HTML figures only")


def run(args):
    import pandas as pd

    from ..analysis import probing
    from ..errors import ExplorerError
    from ..zoo import load

    if (args.train is None) != (args.test is None) and args.task != "geometry":
        raise ExplorerError("give both --train and --test, or neither (then the demo sets are used)")
    for n in (args.train_limit, args.test_limit):
        if n is not None and n < 1:
            raise ExplorerError("--train-limit and --test-limit must be at least 1")
    settings = probing.ProbeSettings(mlp_hidden=args.mlp, mix=not args.no_mix, seed=args.seed).check()
    models = [load(name) for name in args.model]
    experiment = {"pos": _pos, "wsd": _wsd, "wic": _wic, "geometry": _geometry}[args.task]
    tables, figures, files, extra = experiment(args, models, settings)
    results = pd.concat(tables, ignore_index=True) if tables else probing.table([])
    config = probing.run_config(args.task, models, files, settings, pool=args.pool, command=sys.argv, **extra)
    out = Path(args.out or Path(DEFAULT_OUT) / args.task)
    written = probing.save_run(out, results, figures, config, png=not args.no_png)
    print(_summary(results))
    print(f"\nwrote {out}/results.csv, config.json and {len(figures)} figures (PNG: {written['png']})")
    return 0


def _pos(args, models, settings):
    import pandas as pd

    from ..analysis import probing
    from ..data.conllu import DEMO_POS_TEST, DEMO_POS_TRAIN, read_pos_file

    files = dict(train=Path(args.train or DEMO_POS_TRAIN), test=Path(args.test or DEMO_POS_TEST))
    columns = dict(word_col=args.word_col, tag_col=args.tag_col)
    train = read_pos_file(files["train"], args.train_limit, **columns)
    test = read_pos_file(files["test"], args.test_limit, **columns)
    tables = [probing.pos_probe(m, train, test, tagset=args.tagset, pool=args.pool, settings=settings,
                                cache_dir=args.cache, progress=True) for m in models]
    df = pd.concat(tables, ignore_index=True)
    task = df.task.iloc[0]  # named from the data: pos/upos, pos/xpos, pos/ptb, ...
    figures = dict(accuracy=probing.layer_figure(df, task, "accuracy"),
                   selectivity=probing.selectivity_figure(df, task))
    if settings.mix:
        figures["mix_weights"] = probing.mix_weights_figure(df)
    return tables, figures, files, dict(tagset=task.partition("/")[2], train_sentences=len(train),
                                        test_sentences=len(test), train_limit=args.train_limit,
                                        test_limit=args.test_limit, **columns)


def _sense_file_name(path: Path) -> str:
    return path.name.split(".")[0]


def _wsd(args, models, settings):
    import pandas as pd

    from ..analysis import probing
    from ..analysis.wsd import wsd_probe
    from ..data.wsd import DEMO_SENSES_TEST, DEMO_SENSES_TRAIN, read_sense_file, wordnet_first_senses

    files = dict(train=Path(args.train or DEMO_SENSES_TRAIN), test=Path(args.test or DEMO_SENSES_TEST))
    train, test = read_sense_file(files["train"]), read_sense_file(files["test"])
    first_senses = None
    if args.wordnet:
        files["wordnet"] = Path(args.wordnet)
        first_senses = wordnet_first_senses(files["wordnet"])
    name = "demo" if args.test is None else _sense_file_name(files["test"])
    tables = [wsd_probe(m, train, test, name=name, max_train_sentences=args.train_limit, first_senses=first_senses,
                        pool=args.pool, settings=settings, cache_dir=args.cache, progress=True) for m in models]
    df = pd.concat(tables, ignore_index=True)
    figures = dict(f1=probing.layer_figure(df, f"wsd/{name}", "f1"))
    if settings.mix:
        figures["mix_weights"] = probing.mix_weights_figure(df)
    return tables, figures, files, dict(test_name=name, train_sentences=len(train), train_limit=args.train_limit)


def _wic(args, models, settings):
    import pandas as pd

    from ..analysis import probing
    from ..analysis.wsd import wic_probe
    from ..data.wic import pairs_from_senses, read_wic
    from ..data.wsd import DEMO_SENSES_TEST, DEMO_SENSES_TRAIN, read_sense_file

    files = dict(train=Path(args.train or DEMO_SENSES_TRAIN), test=Path(args.test or DEMO_SENSES_TEST))

    def pairs(path):
        if path.suffix == ".txt":
            return read_wic(path)
        return pairs_from_senses(read_sense_file(path), seed=args.seed)

    train, test = pairs(files["train"]), pairs(files["test"])
    name = "demo" if args.test is None else _sense_file_name(files["test"])
    tables = [wic_probe(m, train, test, name=name, pool=args.pool, cache_dir=args.cache, progress=True)
              for m in models]
    df = pd.concat(tables, ignore_index=True)
    return tables, dict(accuracy=probing.layer_figure(df, f"wic/{name}", "accuracy")), files, dict(
        test_name=name, train_pairs=len(train), test_pairs=len(test))


def _geometry(args, models, settings):
    from ..analysis import geometry, probing
    from ..data.wsd import DEMO_SENSES_TEST, DEMO_SENSES_TRAIN, read_sense_file

    paths = [Path(args.test)] if args.test else [DEMO_SENSES_TRAIN, DEMO_SENSES_TEST]
    sentences = [s for p in paths for s in read_sense_file(p)]
    points = geometry.sense_points(sentences, args.word)
    tables, figures = [], {}
    for i, m in enumerate(models):
        geom = geometry.layer_geometry(m, points, title=f"{args.word} in {m.name}", pool=args.pool, seed=args.seed,
                                       cache_dir=args.cache)
        sep = geom.separation.assign(model=m.name, task=f"geometry/{args.word}")
        tables.append(probing.table(sep.to_dict("records")))
        for method in geom.coords:
            figures[f"{method}_{i}"] = geometry.geometry_figure(geom, method)
        figures[f"separation_{i}"] = geometry.separation_figure(geom)
    return tables, figures, {f"contexts{i}": p for i, p in enumerate(paths)}, dict(word=args.word, points=len(points))


def _summary(results) -> str:
    """Per task and metric, the best layer of each model (what a reader looks for first)."""
    per_layer = results.dropna(subset=["layer"])
    per_layer = per_layer[~per_layer.metric.isin(["mix_weight", "threshold"])]
    if per_layer.empty:
        return results.to_string(index=False)
    best = per_layer.loc[per_layer.groupby(["model", "task", "metric"]).value.idxmax()]
    lines = ["best layer per model, task and metric:",
             best[["model", "task", "metric", "layer", "value", "n"]].round(4).to_string(index=False)]
    flat = results[results.layer.isna()]
    if len(flat):
        lines += ["", "baselines and scalar mixes:", flat[["model", "task", "metric", "value", "n"]].round(4)
                  .to_string(index=False)]
    return "\n".join(lines)
