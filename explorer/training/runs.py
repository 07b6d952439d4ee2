"""Training runs as background processes: launch, status, stop, resume, and what a run writes.

A run is `python -m explorer train ...` in its own process (a stopped run resumes from its last
checkpoint); everything about it is read from the files it writes in its folder: the log, metrics.jsonl,
the checkpoint, and the finished model's config.json. The Train page lays these out.
"""
import json
import re
from pathlib import Path

from .. import jobs
from ..jobs import failure_reason, without_tracebacks  # noqa: F401 -- a run's log reads as any job's
from .config import CHECKPOINT, METRICS, PREPARING, TrainConfig, latest, read_state

RUN_FILE, LOG_FILE = jobs.JOB_FILE, "train.log"
PROGRAM = jobs.program("train")


def launch(config: TrainConfig, resume: bool = False) -> Path:
    """Start ``config``'s run in the background (over whatever ``config.out`` holds, unless resuming)."""
    args = [*config.argv(), "--no-progress", "--resume" if resume else "--force"]
    return jobs.start(Path(config.out), PROGRAM, args, LOG_FILE)


def runs(root: Path) -> list[Path]:
    """Folders under ``root`` that hold a run started by the app or from the command line, newest first."""
    if not root.exists():
        return []
    found = {p.parent for pattern in (METRICS, RUN_FILE) for p in root.glob(f"*/{pattern}")}
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def status(out: Path) -> str:
    """running, finished, stopped (resumable), failed, or starting."""
    if jobs.alive(out, "train"):
        return "running"
    if (out / "config.json").exists():
        return "finished"
    if (out / CHECKPOINT).exists() and latest(out / CHECKPOINT) is not None:
        return "stopped"
    return "failed" if (out / LOG_FILE).exists() else "starting"


def stop(out: Path) -> None:
    jobs.stop(out, "train")


def resume(out: Path) -> Path:
    """Continue from the last checkpoint with the run's own settings (saved in the checkpoint)."""
    saved = read_state(latest(out / CHECKPOINT))["config"]
    return launch(TrainConfig(**(saved | dict(out=str(out)))), resume=True)


def metrics(out: Path) -> list[dict]:
    """The rows of metrics.jsonl written so far."""
    path = out / METRICS
    rows = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a line being written right now
            break
    return rows


def preparation(out: Path) -> tuple[float, str] | None:
    """Before its first step, how far a run has prepared (a share) and what it is doing, from its log."""
    this_launch = (log(out) or "").rsplit("\n$ ", 1)[-1]
    lines = [ln for ln in this_launch.splitlines() if ln.startswith(PREPARING)]
    match = re.match(rf"{PREPARING} \((\d+)/(\d+)\): (.*)", lines[-1]) if lines else None
    return ((int(match[1]) - 1) / int(match[2]), match[3]) if match else None


def log(out: Path) -> str | None:
    return jobs.log(out, LOG_FILE)
