"""A transfer sweep's results on disk, and the tables made of them: read by the pages without torch.

Each (model, mode, n, seed) cell is some JSON lines of ``results.jsonl``, written in one go when it finishes;
``plan.json`` lists the cells of the latest run over a folder, so a watcher can count what is left.
"""
import json
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from .. import jobs
from ..errors import ExplorerError
from ..paths import ROOT

MODES = ("features", "finetune", "scratch", "zeroshot", "fewshot", "baselines")  # how a results row used its model
RESULTS = "results.jsonl"
PLAN = "plan.json"  # every cell of the latest run over the folder, so a watcher can count what is left
LOG = "transfer.log"  # a sweep's output when it runs as a background job
CHECKPOINTS = "checkpoints"


def key(model_name: str, mode: str, n, seed) -> tuple:
    return model_name, mode, n, seed


class Progress(NamedTuple):
    done: int
    planned: int
    seconds_left: float | None  # at the mean pace of the finished cells (None before one has finished)


def progress_of(out: str | Path) -> Progress:
    """How far the latest run over ``out`` has come; nothing planned before it has started."""
    plan_path, results = Path(out) / PLAN, Path(out) / RESULTS
    if not plan_path.exists():
        return Progress(0, 0, None)
    planned = {tuple(k) for k in json.loads(plan_path.read_text())}
    finished = _finished(results.read_text() if results.exists() else "")
    seconds = [finished[k] for k in planned & finished.keys()]
    left = len(planned) - len(seconds)
    return Progress(len(seconds), len(planned), sum(seconds) / len(seconds) * left if seconds else None)


def _finished(text: str) -> dict[tuple, float]:
    """The cells whose results lines ``text`` holds in full, with the seconds each took."""
    done: dict[tuple, float] = {}
    for line in text.splitlines():
        try:
            r = json.loads(line)
        except json.JSONDecodeError:  # the line being written right now
            break
        k = key(r["model"], r["mode"], r["n"], r["seed"])
        done[k] = done.get(k, 0.0) + (r.get("seconds") or 0.0)
    return done


def open_results(out: str | Path) -> tuple[Path, set]:
    """The results file of ``out`` and the cells it holds; a folder holding something else is refused."""
    out = Path(out)
    path = out / RESULTS
    own = {RESULTS, PLAN, LOG, CHECKPOINTS, jobs.JOB_FILE}
    if out.exists() and not path.exists() and any(p.name not in own for p in out.iterdir()):
        raise ExplorerError(f"{out} holds other files and no {RESULTS}: choose an empty or new --out folder")
    out.mkdir(parents=True, exist_ok=True)
    text = path.read_text() if path.exists() else ""
    if text and not text.endswith("\n"):  # a kill mid-write: drop the torn line
        text = text[:text.rfind("\n") + 1]
        path.write_text(text)
    return path, set(_finished(text))


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread of accuracy over seeds per (model, mode, method, n)."""
    return (df.assign(n=df.n.fillna(-1).astype(int)).groupby(["model", "mode", "method", "n"], sort=False)
            .accuracy.agg(["mean", "std", "count"]).reset_index().replace({"n": {-1: "all"}}))


def wide(df: pd.DataFrame) -> pd.DataFrame:
    """Model x mode x method rows, a column per n: accuracy % as 'mean ± std (seeds)'."""
    s = summary(df)
    s["model"] = s.model.replace("", "-")
    s["score"] = [f"{100 * m:.1f}" + (f" ± {100 * sd:.1f}" if c > 1 else "") + f" ({c})"
                  for m, sd, c in zip(s["mean"], s["std"].fillna(0), s["count"])]
    table = s.pivot_table(index=["model", "mode", "method"], columns="n", values="score", aggfunc="first",
                          sort=False).fillna("")
    table = table[sorted(table.columns, key=lambda n: float("inf") if n == "all" else n)]
    table.columns = [str(n) for n in table.columns]
    return table.reset_index()


def gains(df: pd.DataFrame) -> pd.DataFrame:
    """Per model and n: each trained mode's mean accuracy minus the from-scratch twin's (the denominator)."""
    trained = df[df["mode"].isin(["features", "finetune", "scratch"])]
    if trained.empty:
        return pd.DataFrame()
    means = trained.assign(n=trained.n.fillna(-1).astype(int)).pivot_table(
        index=["model", "n"], columns="mode", values="accuracy", aggfunc="mean")
    if "scratch" not in means:
        return pd.DataFrame()
    gain = means.drop(columns="scratch").sub(means["scratch"], axis=0).add_prefix("gain_").dropna(how="all")
    return gain.reset_index().replace({"n": {-1: "all"}})


SHIPPED = [ROOT / "bench/results" / f"transfer-{name}"
           for name in ("sst2", "upos", "sst2-minilm", "upos-minilm", "sst2-smollm2")]


def shipped() -> pd.DataFrame:
    """Every measured cell that ships with the project (empty when none do)."""
    frames = [pd.read_json(folder / RESULTS, lines=True) for folder in SHIPPED if (folder / RESULTS).exists()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# Published GLUE SST-2 test accuracy of the full-size models (their papers; not measured here), for scale.
PUBLISHED_SST2 = {"GPT": 0.913, "BERT-base": 0.935, "BiLSTM + ELMo": 0.904}
PUBLISHED_NOTE = ("Published GLUE SST-2 test accuracy of the full-size models (their papers, not measured here): "
                  + ", ".join(f"{name} {100 * acc:.1f}" for name, acc in PUBLISHED_SST2.items()) + ".")

PROBE = ROOT / "bench/results/probe-ewt-pos/results.csv"  # the probing lab's shipped per-layer UPOS sweep


def shipped_probe() -> pd.DataFrame:
    """Per-layer UPOS probe accuracy of the shipped models (model, layer, accuracy): what each layer holds, to set
    beside the layers the feature mix chose."""
    if not PROBE.exists():
        return pd.DataFrame(columns=["model", "layer", "accuracy"])
    probe = pd.read_csv(PROBE)
    probe = probe[probe.metric == "accuracy"].rename(columns={"value": "accuracy"})
    return probe[["model", "layer", "accuracy"]].astype({"layer": int})


def headline(df: pd.DataFrame, n: int = 1000) -> dict[str, str]:
    """Per model, one line per task: each trained mode's mean accuracy at size ``n`` and its gain over scratch,
    then the prompted modes (which use no training set)."""
    lines: dict[str, list[str]] = {}
    for task, rows in df.groupby("task", sort=False):
        trained, prompted = rows[rows.n == n], rows[rows["mode"].isin(["zeroshot", "fewshot"])]
        gain = gains(trained)
        gain = gain.set_index("model") if not gain.empty else gain
        means = trained.groupby(["model", "mode"]).accuracy.mean()
        shots = prompted.groupby(["model", "mode", "n"]).accuracy.mean()
        for model in rows.model[rows.model != ""].unique():
            parts = []
            for mode in ("features", "finetune", "scratch"):
                if (model, mode) not in means:
                    continue
                over = gain.loc[model, f"gain_{mode}"] if f"gain_{mode}" in gain and model in gain.index else None
                parts.append(f"{mode} {100 * means[model, mode]:.1f} %"
                             + (f" ({100 * over:+.1f})" if over is not None and pd.notna(over) else ""))
            parts += [f"{mode}{f' k = {int(k)}' if mode == 'fewshot' else ''} {100 * acc:.1f} %"
                      for mode in ("zeroshot", "fewshot") for (m, used, k), acc in shots.items()
                      if m == model and used == mode]
            if parts:
                lines.setdefault(model, []).append(f"{task}: " + ", ".join(parts))
    return {model: "; ".join(parts) for model, parts in lines.items()}
