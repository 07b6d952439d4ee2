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
           "most-frequent-sense baseline; a seeded slice of --train (or --dev) picks the best layer, test F1 is scored once per "
           "layer with a bootstrap 95 %% interval",
    "wic": "same sense or not (WiC pairs): a cosine threshold per layer, with the majority baseline; a seeded slice "
           "of --train (or --dev) picks the best layer, test is scored once per layer with a bootstrap 95 %% interval",
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


def _selection_arguments(parser, picks: str, items: str, metric: str):
    """How the best layer is chosen without looking at test, and the test set's intervals."""
    parser.add_argument("--dev", help=f"a dev file (same format as --train) that picks {picks}; default: a seeded "
                                      f"--dev-fraction of the training {items}")
    parser.add_argument("--dev-fraction", type=float, default=0.1, help=f"share of training {items} held out as "
                                                                        "dev when no --dev is given (default 0.1)")
    parser.add_argument("--tie-tolerance", type=float, default=0.0,
                        help=f"layers within this dev {metric} of the best are reported as tied (default 0: equal)")
    parser.add_argument("--bootstrap", type=int, default=1000,
                        help=f"resamples of test {items} for each layer's 95 %% interval (0: none)")


def _pos_arguments(parser):
    _selection_arguments(parser, "the best layer and l2", "sentences", "accuracy")
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
    parser.add_argument("--codelength", action="store_true",
                        help="MDL online codelength and compression per layer (Voita & Titov 2020; ~10 probes a layer)")
    parser.add_argument("--conditional", choices=["word", "layer0"],
                        help="V-information each layer adds beyond a word-type one-hot or layer 0, in bits per "
                             "token (Hewitt et al. 2021)")


def _wsd_arguments(parser):
    _selection_arguments(parser, "the best layer", "sentences", "F1")
    parser.add_argument("--train-limit", type=int, help="a random sample of at most N training sentences "
                                                         "(e.g. to cap SemCor)")
    parser.add_argument("--wordnet", help="Open English WordNet's source YAML (zip or folder); lemmas SemCor "
                                          "never annotates fall back to their first WordNet sense")
    parser.add_argument("--no-mix", action="store_true", help="skip the learned scalar mix over layers")


def _wic_arguments(parser):
    _selection_arguments(parser, "the best layer (WiC's own dev.data.txt, say)", "pairs", "accuracy")


def _geometry_arguments(parser):
    parser.add_argument("--word", default="bank", help="the word whose contexts are laid out")


def run(args):
    from ..analysis import probe_run, probing
    from ..data import probe_data
    from ..zoo import load

    settings = probing.ProbeSettings(
        mlp_hidden=_opt(args, "mlp", 0), mix=hasattr(args, "no_mix") and not args.no_mix, seed=args.seed,
        dev_fraction=_opt(args, "dev_fraction", 0.1), l2_grid=tuple(_opt(args, "l2_grid", ())),
        tie_tolerance=_opt(args, "tie_tolerance", 0.0), bootstrap=_opt(args, "bootstrap", 1000),
        codelength=_opt(args, "codelength", False), conditional=_opt(args, "conditional", "")).check()
    data = probe_data.read(args.task, _opt(args, "train"), args.test, dev=_opt(args, "dev"), seed=args.seed,
                           **{k: _opt(args, k) for k in ("train_limit", "test_limit", "word_col", "tag_col",
                                                         "wordnet")})
    models = [load(name) for name in args.model]
    done = probe_run.run(data, models, settings, control=_opt(args, "control_model", False), pool=args.pool,
                         tagset=_opt(args, "tagset", "upos"), word=_opt(args, "word", "bank"), cache_dir=args.cache,
                         progress=True, command=args.invocation)
    figures = done.figures(relative=args.relative_depth)
    out = Path(args.out or Path(DEFAULT_OUT) / args.task)
    written = probing.save_run(out, done.results, figures, done.config, png=not args.no_png)
    print(_summary(done.results))
    print(f"\nwrote {out}/results.csv, config.json and {len(figures)} figures (PNG: {written['png']})")
    return 0


def _opt(args, name, default=None):
    """An option's value, or ``default`` where it is unset or the task has no such option."""
    value = getattr(args, name, None)
    return default if value is None else value


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
