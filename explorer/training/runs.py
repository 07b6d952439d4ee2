"""Training runs as background processes: launch, status, stop, resume, and what a run writes.

A run is `python -m explorer train ...` in its own process (a stopped run resumes from its last
checkpoint); everything about it is read from the files it writes in its folder: the log, metrics.jsonl,
the checkpoint, and the finished model's config.json. The Train page lays these out.
"""
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..zoo import ROOT
from .checkpoint import latest, read_state
from .loop import CHECKPOINT, METRICS, TrainConfig

RUN_FILE, LOG_FILE = "app_run.json", "train.log"
PROGRAM = [sys.executable, "-m", "explorer", "train"]  # what a run executes, before its arguments
_PROCESSES: dict[str, subprocess.Popen] = {}  # runs started by this process, by folder: it outlives page reruns


def launch(config: TrainConfig, resume: bool = False) -> Path:
    """Start ``config``'s run in the background (over whatever ``config.out`` holds, unless resuming)."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    command = [*PROGRAM, *config.argv(), "--no-progress", "--resume" if resume else "--force"]
    with open(out / LOG_FILE, "ab") as log:
        log.write(f"\n$ {shlex.join(command[1:])}\n".encode())
        log.flush()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
    _PROCESSES[str(out)] = process
    (out / RUN_FILE).write_text(json.dumps(dict(pid=process.pid, args=command[len(PROGRAM):], started=time.time())))
    return out


def runs(root: Path) -> list[Path]:
    """Folders under ``root`` that hold a run started by the app or from the command line, newest first."""
    if not root.exists():
        return []
    found = {p.parent for pattern in (METRICS, RUN_FILE) for p in root.glob(f"*/{pattern}")}
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def status(out: Path) -> str:
    """running, finished, stopped (resumable), failed, or starting."""
    process = _PROCESSES.get(str(out))
    if (process.poll() is None) if process is not None else _pid_alive(out):
        return "running"
    if (out / "config.json").exists():
        return "finished"
    if (out / CHECKPOINT).exists() and latest(out / CHECKPOINT) is not None:
        return "stopped"
    return "failed" if (out / LOG_FILE).exists() else "starting"


def _pid_alive(out: Path) -> bool:
    """A run started by an earlier app process: is its training process still there?"""
    try:
        pid = json.loads((out / RUN_FILE).read_text())["pid"]
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, KeyError):
        return False
    return b"explorer" in cmdline and b"train" in cmdline


def stop(out: Path) -> None:
    process = _PROCESSES.get(str(out))
    if process is not None:
        process.terminate()
        process.wait(timeout=30)
    elif _pid_alive(out):
        os.kill(json.loads((out / RUN_FILE).read_text())["pid"], signal.SIGTERM)


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


def log(out: Path) -> str | None:
    """The run's log, with each Python traceback cut to its last line (the exception): what a reader needs."""
    path = out / LOG_FILE
    return without_tracebacks(path.read_text(errors="replace")) if path.exists() else None


def without_tracebacks(text: str) -> str:
    return re.sub(r"Traceback \(most recent call last\):\n(?:[ \t].*\n)*", "", text)


def failure_reason(log: str) -> str:
    """The last line the run wrote: `explorer train` ends a failed run with 'error: <reason>'."""
    lines = [line for line in log.splitlines() if line.strip()]
    return lines[-1].removeprefix("error: ") if lines else "it wrote nothing to its log"
