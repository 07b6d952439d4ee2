"""Transfer sweeps as background jobs: `python -m explorer transfer ...` started, watched and stopped by the app.

A sweep's folder holds what the command writes (the plan of its cells, results.jsonl cell by cell, its log), so
progress, results and failures are read from files and a stopped sweep continues where it stopped.
"""
import json
from pathlib import Path

from .. import jobs
from .results import LOG, PLAN, RESULTS, progress_of

PROGRAM = jobs.program("transfer")


def launch(out: Path, task: str, models: list[str], modes: list[str], ns: list[int | None], seeds: int,
           epochs: int = 3, shots: int = 4, test: str | None = None, save: bool = False) -> Path:
    """Start the sweep in the background; its finished cells in ``out`` are skipped."""
    args = ["--task", task, *(["--test", test] if test else []), *[a for m in models for a in ("--model", m)],
            "--mode", ",".join(modes), "--n", ",".join("all" if n is None else str(n) for n in ns),
            "--seeds", str(seeds), "--epochs", str(epochs), "--shots", str(shots), "--out", str(out), "--no-progress",
            *(["--save-models"] if save else [])]
    return jobs.start(Path(out), PROGRAM, args, LOG)


def resume(out: Path) -> Path:
    """Start a stopped sweep again with its own arguments: it skips the cells it finished."""
    return jobs.start(out, PROGRAM, json.loads((out / jobs.JOB_FILE).read_text())["args"], LOG)


def sweeps(root: Path) -> list[Path]:
    """Folders under ``root`` holding a sweep, newest first."""
    found = {p.parent for name in (PLAN, jobs.JOB_FILE) for p in root.glob(f"*/{name}")} if root.exists() else set()
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def status(out: Path) -> str:
    """running, finished, stopped (resumable), failed, or starting."""
    if jobs.alive(out, "transfer"):
        return "running"
    done, planned, _ = progress_of(out)
    if planned and done == planned:
        return "finished"
    text = jobs.log(out, LOG) or ""
    if "error:" in text.rsplit("$ ", 1)[-1]:
        return "failed"
    return "stopped" if (out / RESULTS).exists() or planned else "starting"


def stop(out: Path) -> None:
    jobs.stop(out, "transfer")


def log(out: Path) -> str | None:
    return jobs.log(out, LOG)
