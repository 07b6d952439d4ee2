"""Learning curves: every (model, mode, n, seed) cell run once, its results appended as JSON lines.

A cell's lines are written (and synced) in one go when it finishes, so a rerun skips finished cells and a kill
loses at most the cell in progress.
"""
import dataclasses
import json
import os
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from ..paths import safe_name
from . import modes
from .data import TaskData
from .network import TrainSettings
from .results import CHECKPOINTS, PLAN, key, open_results


def plan(task: TaskData, models, mode_names, ns, seeds, shots: int = 4) -> list[tuple]:
    """The cells (model or None, mode, n, seed); unsupported modes are refused before any work starts."""
    cells = []
    for mode in mode_names:
        if mode == "baselines":
            cells += [(None, mode, n, s) for n in ns for s in seeds]
            continue
        for model in models:
            modes.check_usage(model, mode, task.level)
            if mode == "zeroshot":  # deterministic: one cell
                cells.append((model, mode, 0, 0))
            elif mode == "fewshot":
                cells += [(model, mode, shots, s) for s in seeds]
            else:
                cells += [(model, mode, n, s) for n in ns for s in seeds]
    return cells


def run_curve(task: TaskData, models, mode_names, ns, seeds, out, settings: TrainSettings = TrainSettings(),
              shots: int = 4, save_models: bool = False, progress: bool = True) -> pd.DataFrame:
    """Run every cell not already in ``out``; returns all results in ``out`` as a table."""
    cells = plan(task, models, mode_names, ns, seeds, shots)
    path, done = open_results(out)
    keys = [key(c[0].name if c[0] else "", *c[1:]) for c in cells]
    (Path(out) / PLAN).write_text(json.dumps(keys))
    todo = [c for c, k in zip(cells, keys) if k not in done]
    settings = dataclasses.replace(settings, progress=progress)
    for model, mode, n, seed in tqdm(todo, desc=f"transfer on {task.name}", unit="cell", disable=not progress):
        results = _cell(task, model, mode, n, seed, settings, save_models and mode in ("finetune", "scratch"),
                        Path(out))
        with open(path, "a") as f:
            f.write("".join(json.dumps(r.row()) + "\n" for r in results))
            f.flush()
            os.fsync(f.fileno())
    return pd.read_json(path, lines=True)


def _cell(task, model, mode, n, seed, settings, save, out) -> list:
    if mode == "baselines":
        return modes.baselines(task, n, seed)
    if mode == "zeroshot":
        return [modes.zeroshot(model, task, seed)]
    if mode == "fewshot":
        return [modes.fewshot(model, task, n, seed)]
    run = getattr(modes, mode)
    if mode == "features":
        return [run(model, task, n, seed, settings)]
    folder = out / CHECKPOINTS / f"{safe_name(model.name)}-{mode}-n{n or 'all'}-s{seed}" if save else None
    return [run(model, task, n, seed, settings, save=folder)]
