"""Benchmark: the per-layer probe + control task fits of the EWT UPOS sweep, landed code against the batched,
early-stopped fits, on the same cached features in one process.

"Before" is explorer/analysis/probing.py as it was at --before (a git revision; default the commit before the
batched fits), loaded from git into this process; "after" is the working tree's. Both run ``pos_probe`` on the
same sentences with the same settings (scalar mix off: it is a separate fit, the same in both; bootstrap on, as in
a real run), alternating before/after for --reps rounds so that load on a shared machine falls on both alike.
Measured per run: the whole cached sweep's wall time and the time inside the probe fits (fit_probe, and
fit_layer_probes after). Compared per layer: test accuracy, control accuracy, selectivity and dev accuracy.
torch runs on one thread (torch.set_num_threads(1)), so the numbers are comparable under contention.

    python bench/probe_fits.py [--model gpt2-tiny --model bert-tiny ...] [--reps 2] [--train-limit N]

Features are extracted once into the default cache (or --cache) if not there yet. Writes
bench/results/probe_fits.json and bench/results/probe_fits.md. Goal from the issue: accuracy within +-0.3 points
of the landed code's on EWT.
"""
import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from explorer.paths import SHARED_DATA  # noqa: E402

EWT = SHARED_DATA / "ud_english_ewt"
RESULTS = ROOT / "bench" / "results"
BEFORE = "76b91af"  # the last commit with the per-layer fits
COMPARED = ("accuracy", "control_accuracy", "selectivity", "dev_accuracy")


def landed_probing(revision: str):
    """explorer.analysis.probing as it was at ``revision``, as a module of this process (its relative imports
    resolved against today's package; features.py may have moved up to explorer/)."""
    source = subprocess.run(["git", "show", f"{revision}:explorer/analysis/probing.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    if not (ROOT / "explorer" / "analysis" / "features.py").exists():
        source = source.replace("from .features import", "from ..features import")
    spec = importlib.util.spec_from_loader("explorer.analysis._probing_landed", loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "explorer.analysis"
    sys.modules[spec.name] = module
    exec(compile(source, f"{revision}:explorer/analysis/probing.py", "exec"), module.__dict__)
    return module


class FitTimer:
    """Wraps a module's fitting functions: seconds spent in them, and (after) how many epochs Adam ran."""

    def __init__(self, module, names):
        self.seconds, self.epochs = 0.0, []
        for name in names:
            if hasattr(module, name):
                setattr(module, name, self.wrap(getattr(module, name)))

    def wrap(self, fit):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            probe = fit(*args, **kwargs)
            self.seconds += time.perf_counter() - start
            if hasattr(probe, "epochs_run"):
                self.epochs.append(probe.epochs_run)
            return probe
        return timed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="model name or path (repeat); default gpt2-tiny, bert-tiny")
    parser.add_argument("--train", default=str(EWT / "en_ewt-ud-train.conllu"))
    parser.add_argument("--dev", default=str(EWT / "en_ewt-ud-dev.conllu"))
    parser.add_argument("--test", default=str(EWT / "en_ewt-ud-test.conllu"))
    parser.add_argument("--train-limit", type=int, help="first N training sentences only (default: all)")
    parser.add_argument("--reps", type=int, default=2, help="rounds of before/after (alternating order)")
    parser.add_argument("--before", default=BEFORE, help=f"git revision of the landed code (default {BEFORE})")
    parser.add_argument("--cache", help="feature cache folder (default: the explorer's)")
    parser.add_argument("--out", default=str(RESULTS / "probe_fits"))
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    import explorer
    from explorer.analysis import probing as after
    from explorer.data.conllu import read_pos_file

    before = landed_probing(args.before)
    timers = {"before": FitTimer(before, ["fit_probe"]), "after": FitTimer(after, ["fit_probe", "fit_layer_probes"])}
    modules = {"before": before, "after": after}
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "explorer"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip())
    report = dict(machine=dict(cpu=platform.processor() or platform.machine(), cores=os.cpu_count(),
                               torch=torch.__version__, python=platform.python_version(),
                               load_average_start=os.getloadavg()[0]),
                  torch_threads=1, before=args.before, after=head.strip() + (" + working tree" if dirty else ""),
                  train=args.train, dev=args.dev, test=args.test, train_limit=args.train_limit, reps=args.reps,
                  settings="ProbeSettings(mix=False), otherwise defaults", models=[])
    train = read_pos_file(args.train, args.train_limit)
    dev, test = read_pos_file(args.dev), read_pos_file(args.test)
    for name in args.model or ["gpt2-tiny", "bert-tiny"]:
        model = explorer.load(name)
        start = time.perf_counter()
        for part in (train, dev, test):  # into the cache (a no-op when there)
            after.tagged_data(model, part, "upos", "first", args.cache)
        entry = dict(model=model.name, features_s=round(time.perf_counter() - start, 1), runs=[])
        tables = {}
        for rep in range(args.reps):
            for side in ("before", "after") if rep % 2 == 0 else ("after", "before"):
                timer, module = timers[side], modules[side]
                timer.seconds, timer.epochs = 0.0, []
                start = time.perf_counter()
                tables[side] = module.pos_probe(model, train, test, dev=dev, settings=module.ProbeSettings(mix=False),
                                                cache_dir=args.cache)
                entry["runs"].append(dict(side=side, sweep_s=round(time.perf_counter() - start, 2),
                                          fits_s=round(timer.seconds, 2), adam_epochs=timer.epochs or None))
                print(model.name, entry["runs"][-1], flush=True)
        entry.update(compare(tables["before"], tables["after"]))
        for side in ("before", "after"):
            runs = [r for r in entry["runs"] if r["side"] == side]
            entry[f"{side}_sweep_s"] = min(r["sweep_s"] for r in runs)
            entry[f"{side}_fits_s"] = min(r["fits_s"] for r in runs)
        entry["fits_speedup"] = round(entry["before_fits_s"] / entry["after_fits_s"], 2)
        entry["sweep_speedup"] = round(entry["before_sweep_s"] / entry["after_sweep_s"], 2)
        entry["adam_epochs_after"] = [r["adam_epochs"] for r in entry["runs"] if r["side"] == "after"][0]
        report["models"].append(entry)
    report["machine"]["load_average_end"] = os.getloadavg()[0]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2))
    out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


def compare(old, new) -> dict:
    """Per layer, before and after of each compared metric; the largest absolute difference in points."""
    per_layer, worst = [], {}
    for metric in COMPARED:
        a = old[old.metric == metric].set_index("layer").value
        b = new[new.metric == metric].set_index("layer").value
        for layer in a.index:
            per_layer.append(dict(layer=int(layer), metric=metric, before=round(float(a[layer]), 5),
                                  after=round(float(b[layer]), 5), diff_points=round(100 * (b[layer] - a[layer]), 3)))
        worst[metric] = round(float((100 * (b - a)).abs().max()), 3)
    return dict(per_layer=per_layer, max_abs_diff_points=worst)


def markdown(report: dict) -> str:
    m = report["machine"]
    data = f"first {report['train_limit']} training sentences" if report["train_limit"] else "full train"
    lines = [f"EWT UPOS probe fits ({data} -> dev picks -> test), landed per-layer fits ({report['before']}) against "
             f"batched early-stopped fits ({report['after']}), one process, torch threads 1, {m['cores']} cores "
             f"shared, load average {m['load_average_start']:.1f} at start, {m['load_average_end']:.1f} at end; "
             f"{report['reps']} alternating rounds, best of each.", "",
             "| model | fits before | fits after | fits speed-up | cached sweep before / after (no mix) | Adam epochs "
             "after (cap 6) | max abs diff, points: accuracy / control / selectivity / dev |",
             "|---|---|---|---|---|---|---|"]
    for e in report["models"]:
        d = e["max_abs_diff_points"]
        lines.append(f"| {e['model']} | {e['before_fits_s']:.1f} s | {e['after_fits_s']:.1f} s | "
                     f"{e['fits_speedup']:.2f}x | {e['before_sweep_s']:.1f} s / {e['after_sweep_s']:.1f} s | "
                     f"{', '.join(f'{x:.2f}' for x in e['adam_epochs_after'] or [])} | {d['accuracy']:.2f} / "
                     f"{d['control_accuracy']:.2f} / {d['selectivity']:.2f} / {d['dev_accuracy']:.2f} |")
    lines += ["", "Per layer (test accuracy and control accuracy, %, before -> after):", ""]
    for e in report["models"]:
        rows = {(r["layer"], r["metric"]): r for r in e["per_layer"]}
        cells = [f"layer {layer}: {100 * rows[layer, 'accuracy']['before']:.2f} -> "
                 f"{100 * rows[layer, 'accuracy']['after']:.2f}, control "
                 f"{100 * rows[layer, 'control_accuracy']['before']:.2f} -> "
                 f"{100 * rows[layer, 'control_accuracy']['after']:.2f}"
                 for layer in sorted({r["layer"] for r in e["per_layer"]})]
        lines.append(f"- {e['model']}: " + "; ".join(cells))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
