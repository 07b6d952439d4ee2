"""`python -m explorer probe pos|wsd|wic|geometry --model M [--model M2 ...] --train FILE --test FILE --out DIR`."""
import argparse
from pathlib import Path

HELP = "probe every layer: POS tags (with control task), word senses (WSD, WiC) and layer geometry"

DEFAULT_OUT = "probe-results"


TASKS = {
    "pos": "a linear (optionally MLP) tag probe per layer with baselines, a control task and selectivity; a dev set "
           "(--dev, else a seeded slice of --train) picks the best layer and l2, test is scored once per layer "
           "with a bootstrap 95 %% interval; optionally MDL codelength, conditional information and a random-init "
           "control model",
    "wsd": "nearest-centroid word senses per layer (SemCor-style training, Raganato-style test), with the "
           "most-frequent-sense baseline; a seeded slice of --train picks the best layer, test F1 is scored once per "
           "layer with a bootstrap 95 %% interval",
    "wic": "same sense or not (WiC pairs): a cosine threshold per layer, with the majority baseline; a seeded slice "
           "of --train picks the best layer, test is scored once per layer with a bootstrap 95 %% interval",
    "geometry": "2-D layouts (PCA, UMAP) of one word's contexts per layer and how well its senses separate",
}
TRAIN_HELP = {"pos": ".conllu, PTB .pos, word/TAG or whitespace column file",
              "wsd": "*.data.xml (key file beside it), Senseval lexical-sample XML (answers inline or in NAME.key) "
                     "or sense .tsv",
              "wic": "WiC *.data.txt or a sense file"}


def add_arguments(parser):
    common = _common_arguments()
    sub = parser.add_subparsers(dest="task", required=True, metavar="TASK")
    for task, text in TASKS.items():
        task_parser = sub.add_parser(task, parents=[common], help=text.split(";")[0],
                                     description=text.replace("%%", "%"))
        if task == "geometry":
            task_parser.add_argument("--test", help="the contexts file (sense .tsv; default: both demo sense sets)")
        else:
            task_parser.add_argument("--test", help="the evaluation file, same format as --train")
            task_parser.add_argument("--train", help=f"training file: {TRAIN_HELP[task]}. Default: the demo set")
            task_parser.add_argument("--control-model", action="store_true",
                                     help="also probe a randomly initialised copy of each model (same architecture "
                                          "and tokenizer): what the trained model has beyond it, training added")
        globals()[f"_{task}_arguments"](task_parser)


def _common_arguments():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", action="append", required=True,
                        help="shipped name, checkpoint folder or Hugging Face id (repeat to compare models)")
    common.add_argument("--out", help=f"result folder (default: {DEFAULT_OUT}/TASK)")
    common.add_argument("--pool", choices=["first", "mean"], default="first", help="sub-token pooling per word")
    common.add_argument("--seed", type=int, default=0)
    common.add_argument("--cache", help="feature cache folder (default: ~/.linguistic_travelling/cache/features)")
    common.add_argument("--no-png", action="store_true", help="write HTML figures only")
    common.add_argument("--relative-depth", action="store_true",
                        help="figures: x axis layer / n_layers (0..1), so models of different depth line up")
    return common


def _pos_arguments(parser):
    parser.add_argument("--dev", help="a dev file (same format as --train) that picks the best layer and l2; "
                                      "default: a seeded --dev-fraction of the training sentences")
    parser.add_argument("--dev-fraction", type=float, default=0.1, help="share of training sentences held out as "
                                                                        "dev when no --dev is given (default 0.1)")
    parser.add_argument("--tagset", choices=["upos", "xpos"], default="upos", help="which CoNLL-U tag column")
    parser.add_argument("--word-col", type=int, metavar="N", help="read a whitespace column file (CoNLL-2000: "
                                                                   "word POS chunk) with the word in column N (from 0; "
                                                                   "default 0)")
    parser.add_argument("--tag-col", type=int, metavar="N", help="... and the tag in column N (default 1)")
    parser.add_argument("--train-limit", type=int, help="use at most the first N training sentences")
    parser.add_argument("--test-limit", type=int, help="use only the first N test sentences")
    parser.add_argument("--mlp", type=int, default=0, metavar="WIDTH",
                        help="also train a one-hidden-layer MLP probe of this width")
    parser.add_argument("--no-mix", action="store_true", help="skip the learned scalar mix over layers")
    parser.add_argument("--l2-grid", type=float, nargs="+", metavar="L2",
                        help="l2 penalties tried per layer, the one with the best dev accuracy kept (default: 1e-4)")
    parser.add_argument("--tie-tolerance", type=float, default=0.0,
                        help="layers within this dev accuracy of the best are reported as tied (default 0: equal)")
    parser.add_argument("--bootstrap", type=int, default=1000,
                        help="resamples of test sentences for each layer's 95 %% interval (0: none)")
    parser.add_argument("--codelength", action="store_true",
                        help="MDL online codelength and compression per layer (Voita & Titov 2020; ~10 probes a layer)")
    parser.add_argument("--conditional", choices=["word", "layer0"],
                        help="V-information each layer adds beyond a word-type one-hot or layer 0, in bits per "
                             "token (Hewitt et al. 2021)")


def _wsd_arguments(parser):
    parser.add_argument("--train-limit", type=int, help="a random sample of at most N training sentences "
                                                         "(e.g. to cap SemCor)")
    parser.add_argument("--wordnet", help="Open English WordNet's source YAML (zip or folder); lemmas SemCor "
                                          "never annotates fall back to their first WordNet sense")
    parser.add_argument("--no-mix", action="store_true", help="skip the learned scalar mix over layers")


def _wic_arguments(parser):
    pass  # pairs are scored by a cosine threshold per layer: nothing to tune beyond the common options


def _geometry_arguments(parser):
    parser.add_argument("--word", default="bank", help="the word whose contexts are laid out")


def run(args):
    import pandas as pd

    from ..analysis import probing
    from ..errors import ExplorerError
    from ..zoo import load, random_copy

    if (_opt(args, "train") is None) != (args.test is None) and args.task != "geometry":
        raise ExplorerError("give both --train and --test, or neither (then the demo sets are used)")
    for n in (_opt(args, "train_limit"), _opt(args, "test_limit")):
        if n is not None and n < 1:
            raise ExplorerError("--train-limit and --test-limit must be at least 1")
    settings = probing.ProbeSettings(
        mlp_hidden=_opt(args, "mlp", 0), mix=not _opt(args, "no_mix", False), seed=args.seed,
        dev_fraction=_opt(args, "dev_fraction", 0.1), l2_grid=tuple(_opt(args, "l2_grid", ())),
        tie_tolerance=_opt(args, "tie_tolerance", 0.0), bootstrap=_opt(args, "bootstrap", 1000),
        codelength=_opt(args, "codelength", False), conditional=_opt(args, "conditional", "")).check()
    models = [load(name) for name in args.model]
    if _opt(args, "control_model", False):
        models = [m for model in models for m in (model, random_copy(model, args.seed))]
    experiment = {"pos": _pos, "wsd": _wsd, "wic": _wic, "geometry": _geometry}[args.task]
    tables, figures, files, extra = experiment(args, models, settings)
    results = pd.concat(tables, ignore_index=True) if tables else probing.table([])
    config = probing.run_config(args.task, models, files, settings, pool=args.pool, command=args.invocation,
                                summary=probing.summary(results), **extra)
    out = Path(args.out or Path(DEFAULT_OUT) / args.task)
    written = probing.save_run(out, results, figures, config, png=not args.no_png)
    print(_summary(results))
    print(f"\nwrote {out}/results.csv, config.json and {len(figures)} figures (PNG: {written['png']})")
    return 0


def _opt(args, name, default=None):
    """An option's value, or ``default`` where it is unset or the task has no such option."""
    value = getattr(args, name, None)
    return default if value is None else value


def _pos(args, models, settings):
    import pandas as pd

    from ..analysis import probing
    from ..data.conllu import DEMO_POS_TEST, DEMO_POS_TRAIN, read_pos_file

    files = dict(train=Path(args.train or DEMO_POS_TRAIN), test=Path(args.test or DEMO_POS_TEST))
    if args.dev:
        files["dev"] = Path(args.dev)
    columns = dict(word_col=args.word_col, tag_col=args.tag_col)
    train = read_pos_file(files["train"], args.train_limit, **columns)
    test = read_pos_file(files["test"], args.test_limit, **columns)
    dev = read_pos_file(files["dev"], **columns) if args.dev else None
    tables = [probing.pos_probe(m, train, test, dev=dev, tagset=args.tagset, pool=args.pool, settings=settings,
                                cache_dir=args.cache, progress=True) for m in models]
    df, relative = pd.concat(tables, ignore_index=True), args.relative_depth
    task = df.task.iloc[0]  # named from the data: pos/upos, pos/xpos, pos/ptb, ...
    figures = dict(accuracy=probing.layer_figure(df, task, "accuracy", relative=relative),
                   selectivity=probing.selectivity_figure(df, task, relative=relative))
    for metric in ("compression", "conditional_bits"):
        if (df.metric == metric).any():
            figures[metric] = probing.layer_figure(df, task, metric, relative=relative)
    if settings.mix:
        figures["mix_weights"] = probing.mix_weights_figure(df)
    return tables, figures, files, dict(tagset=task.partition("/")[2], train_sentences=len(train),
                                        test_sentences=len(test), dev_sentences=len(dev) if dev else None,
                                        train_limit=args.train_limit, test_limit=args.test_limit, **columns)


def _sense_file_name(path: Path) -> str:
    return path.name.split(".")[0]


def _wsd(args, models, settings):
    import pandas as pd

    from ..analysis import probing
    from ..analysis.wsd import wsd_probe
    from ..data.senses import DEMO_SENSES_TEST, DEMO_SENSES_TRAIN, read_sense_file, wordnet_first_senses

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
    figures = dict(f1=probing.layer_figure(df, f"wsd/{name}", "f1", relative=args.relative_depth))
    if settings.mix:
        figures["mix_weights"] = probing.mix_weights_figure(df)
    return tables, figures, files, dict(test_name=name, train_sentences=len(train), train_limit=args.train_limit)


def _wic(args, models, settings):
    import pandas as pd

    from ..analysis import probing
    from ..analysis.wsd import wic_probe
    from ..data.wic import pairs_from_senses, read_wic
    from ..data.senses import DEMO_SENSES_TEST, DEMO_SENSES_TRAIN, read_sense_file

    files = dict(train=Path(args.train or DEMO_SENSES_TRAIN), test=Path(args.test or DEMO_SENSES_TEST))

    def pairs(path):
        if path.suffix == ".txt":
            return read_wic(path)
        return pairs_from_senses(read_sense_file(path), seed=args.seed)

    train, test = pairs(files["train"]), pairs(files["test"])
    name = "demo" if args.test is None else _sense_file_name(files["test"])
    tables = [wic_probe(m, train, test, name=name, pool=args.pool, settings=settings, cache_dir=args.cache,
                        progress=True)
              for m in models]
    df = pd.concat(tables, ignore_index=True)
    figure = probing.layer_figure(df, f"wic/{name}", "accuracy", relative=args.relative_depth)
    return tables, dict(accuracy=figure), files, dict(
        test_name=name, train_pairs=len(train), test_pairs=len(test))


def _geometry(args, models, settings):
    from ..analysis import geometry, probing
    from ..data.senses import DEMO_SENSES_TEST, DEMO_SENSES_TRAIN, read_sense_file

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
    """The dev-chosen best layer(s) with the per-layer table (flags: best, below word type); tasks without a dev
    choice get each metric's highest layer, named as such. No best layer is named for the control task."""
    from ..analysis import probing

    lines, chosen = [], probing.summary(results)
    if chosen:
        lines += ["best layer per model and task, chosen on dev (ties all listed; test scored once per layer):"]
        for c in chosen:
            tie = " (a tie)" if len(c["best_layers"]) > 1 else ""
            m = c["metric"]
            lines += [f"  {c['model']} {c['task']}{tie}: " + "; ".join(
                f"layer {l}: dev {m} {c[f'dev_{m}'][l]:.4f}, test {c[f'test_{m}'][l]:.4f}"
                + (f" [{c['ci_low'][l]:.4f}, {c['ci_high'][l]:.4f}]" if c["ci_low"] else "")
                + (f", selectivity {c['selectivity'][l]:.4f}" if c["selectivity"] else "") for l in c["best_layers"])]
        tasks = {c["task"] for c in chosen}
        lines += ["", "per layer:", probing.layer_table(results[results.task.isin(tasks)]).round(4)
                  .to_string(index=False)]
    per_layer = results.dropna(subset=["layer"])
    shown = per_layer.metric.isin(["mix_weight", "threshold"]) | per_layer.metric.str.contains("control")
    per_layer = per_layer[~shown & ~per_layer.task.isin({c["task"] for c in chosen})]
    if not per_layer.empty:
        best = per_layer.loc[per_layer.groupby(["model", "task", "metric"]).value.idxmax()]
        lines += ["", "highest layer per model, task and metric (these tasks have no dev set to choose on):",
                  best[["model", "task", "metric", "layer", "value", "n"]].round(4).to_string(index=False)]
    flat = results[results.layer.isna()]
    if len(flat):
        lines += ["", "baselines and scalar mixes:", flat[["model", "task", "metric", "value", "n"]].round(4)
                  .to_string(index=False)]
    return "\n".join(lines).strip() or results.to_string(index=False)
