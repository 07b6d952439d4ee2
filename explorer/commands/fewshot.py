HELP = "few-shot prompting: accuracy against the number of shots for causal models, on a built-in or your own task"


def add_arguments(parser):
    parser.add_argument("--task", help="a built-in task (see --list) or a CSV/JSON file of input/output pairs")
    parser.add_argument("--model", action="append", default=[], help="a causal model; repeat for several")
    parser.add_argument("--k", default="0,1,2,4,8",
                        help="shots per prompt, comma-separated, or 'auto' (0, 1, 2, 4, ... while the context holds)")
    parser.add_argument("--seeds", type=int, default=5, help="demonstration seeds (0 .. N-1): the band of the curve")
    parser.add_argument("--queries", type=int, default=50, help="queries asked per k and seed")
    parser.add_argument("--instruction", default="", help="text before the demonstrations; 'task' for the task's own")
    parser.add_argument("--input-format", help="how a query is written, e.g. '{input} ->' (default: the task's)")
    parser.add_argument("--output-format", help="how its answer follows, e.g. ' {output}'")
    parser.add_argument("--separator", help=r"between examples, e.g. '\n' (default: the task's)")
    parser.add_argument("--kind", choices=["auto", "classification", "open"], default="auto",
                        help="for a task file: score labels or generate answers (auto: labels when outputs repeat)")
    parser.add_argument("--calibrate", action="store_true",
                        help="classify by contextual calibration (Zhao et al. 2021): label probabilities divided by "
                             "those of content-free queries after the same demonstrations")
    parser.add_argument("--induction", action="store_true",
                        help="also measure each model's induction heads and ICL score (Olsson et al. 2022)")
    parser.add_argument("--out", help="folder for results.csv, predictions.csv, config.json and the figure")
    parser.add_argument("--list", action="store_true", help="list the built-in tasks and exit")


def run(args):
    from pathlib import Path

    from ..errors import ExplorerError

    if args.list:
        return _list_tasks()
    missing = [flag for flag, value in (("--task", args.task), ("--model", args.model), ("--out", args.out))
               if not value]
    if missing:
        raise ExplorerError(f"fewshot needs {', '.join(missing)} (see python -m explorer fewshot --help)")
    if args.seeds < 1 or args.queries < 1:
        raise ExplorerError("--seeds and --queries must be at least 1")
    out = Path(args.out)
    task, template, instruction = _task(args)
    models = _models(args.model)
    return _run(args, out, task, template, instruction, models)


def _run(args, out, task, template, instruction, models):
    import json
    import sys
    import warnings

    from ..analysis.export import save_figures
    from ..analysis.prompting import accuracy_curve, curve_figure, shot_ladder
    from ..errors import TruncationWarning

    ks = shot_ladder(models, task, template, instruction) if args.k.strip() == "auto" else _parse_ks(args.k)
    out.mkdir(parents=True, exist_ok=True)

    def progress(ev):
        print(f"{ev.model} k={ev.k} seed={ev.seed}: accuracy {ev.accuracy:.0%}", file=sys.stderr)

    with warnings.catch_warnings():  # truncation is reported below, once
        warnings.simplefilter("ignore", TruncationWarning)
        curve = accuracy_curve(models, task, ks, args.seeds, args.queries, template, instruction, progress,
                               args.calibrate)
    curve.table.to_csv(out / "results.csv", index=False)
    curve.predictions.to_csv(out / "predictions.csv", index=False)
    fig = curve_figure(curve.table, task.chance)
    png = save_figures(dict(accuracy=fig), out, png=True)
    if png != "written":
        print(f"note: PNG {png}")
    written = ["accuracy.html"] + (["accuracy.png"] if png == "written" else [])
    config = dict(task=task.name, description=task.description, label_mode=task.label_mode,
                  labels=list(task.labels) if task.labels else None, models=[m.name for m in models],
                  ks=ks, seeds=list(range(args.seeds)), queries=args.queries, instruction=instruction,
                  template=vars(template), notes=curve.notes, chance=task.chance,
                  calibrated=args.calibrate)
    if args.induction:
        config["induction"] = _induction(models, out)
        written += ["induction.csv", "icl_score.csv", "induction_loss.html"]
    (out / "config.json").write_text(json.dumps(config, indent=2))
    mean = curve.table.groupby(["model", "k"], sort=False).accuracy.mean().unstack("k")
    print(f"{task.name}: mean accuracy over {args.seeds} seed(s), {args.queries} queries each"
          + (f" (chance {task.chance:.0%})" if task.chance else ""))
    print((mean * 100).round(1).to_string())
    for note in curve.notes:
        print(f"note: {note}")
    print(f"wrote results.csv, predictions.csv, config.json, {', '.join(written)} to {out}")
    return 0


def _list_tasks():
    from ..data.tasks import get_task, task_names

    for name in task_names():
        task = get_task(name)
        kind = f"{len(task.labels)} labels" if task.classification else "open answers"
        print(f"{name:24} {kind:14} {task.description}")
    return 0


def _task(args):
    from ..data.tasks import Template, get_task, load_task_file

    is_file = args.task.lower().endswith((".csv", ".json"))
    task = load_task_file(args.task, args.kind) if is_file else get_task(args.task)
    base = task.template

    def unescape(s):
        return s.replace("\\n", "\n").replace("\\t", "\t")

    template = Template(unescape(args.input_format) if args.input_format else base.input_format,
                        unescape(args.output_format) if args.output_format else base.output_format,
                        unescape(args.separator) if args.separator is not None else base.separator)
    instruction = task.instruction if args.instruction == "task" else args.instruction
    return task, template, instruction


def _models(names):
    from ..analysis.prompting import check_causal
    from ..zoo import load

    models = []
    for name in names:
        model = load(name)
        check_causal(model)
        models.append(model)
    return models


def _parse_ks(text):
    from ..errors import ExplorerError

    try:
        ks = sorted({int(k) for k in text.split(",") if k.strip()})
    except ValueError:
        raise ExplorerError(f"--k must be whole numbers separated by commas (e.g. 0,1,2,4,8) or 'auto', got {text!r}") \
            from None
    if not ks or ks[0] < 0:
        raise ExplorerError(f"--k must list numbers of shots >= 0, got {text!r}")
    return ks


def _induction(models, out):
    import pandas as pd

    from ..analysis.export import save_figures
    from ..analysis.induction import analyse, heads_figure, heads_table, loss_figure, summary
    from ..paths import safe_name

    results = [analyse(m) for m in models]
    pd.concat([heads_table(r) for r in results]).to_csv(out / "induction.csv", index=False)
    table = summary(results)
    table.to_csv(out / "icl_score.csv", index=False)
    save_figures(dict(induction_loss=loss_figure(results),
                      **{f"induction_heads_{safe_name(r.model)}": heads_figure(r) for r in results}), out)
    print(table.round(3).to_string(index=False))
    return table.to_dict(orient="records")
