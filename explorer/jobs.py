"""Background jobs: `python -m explorer <command> ...` in its own process, owning one folder.

Everything about a job is read from its folder (its log, and a job file with its pid and arguments), so a job
outlives page reruns and the app process that started it. Training runs and transfer sweeps are jobs.
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

from .paths import ROOT

JOB_FILE = "app_run.json"
_PROCESSES: dict[str, subprocess.Popen] = {}  # jobs started by this process, by folder: it outlives page reruns


def program(command: str) -> list[str]:
    """What a job of ``command`` executes, before its arguments."""
    return [sys.executable, "-m", "explorer", command]


def start(out: Path, program: list[str], args: list[str], log_name: str) -> Path:
    """Run ``program *args`` in the background, appending its output to ``out/log_name``."""
    out.mkdir(parents=True, exist_ok=True)
    argv = [*program, *args]
    with open(out / log_name, "ab") as log_file:
        log_file.write(f"\n$ {shlex.join(argv[1:])}\n".encode())
        log_file.flush()
        process = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
    _PROCESSES[str(out)] = process
    (out / JOB_FILE).write_text(json.dumps(dict(pid=process.pid, args=args, started=time.time())))
    return out


def alive(out: Path, command: str) -> bool:
    """Is the job of ``out`` still running (started by this process, or by an earlier one: read from /proc)?"""
    process = _PROCESSES.get(str(out))
    if process is not None:
        return process.poll() is None
    try:
        pid = json.loads((out / JOB_FILE).read_text())["pid"]
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, KeyError):
        return False
    return b"explorer" in cmdline and command.encode() in cmdline  # a reused pid runs something else


def stop(out: Path, command: str) -> None:
    process = _PROCESSES.get(str(out))
    if process is not None:
        process.terminate()
        process.wait(timeout=30)
    elif alive(out, command):
        os.kill(json.loads((out / JOB_FILE).read_text())["pid"], signal.SIGTERM)


def started(out: Path) -> float | None:
    """When the job of ``out`` was last started (seconds since the epoch), if it was started as a job."""
    try:
        return json.loads((out / JOB_FILE).read_text())["started"]
    except (OSError, ValueError, KeyError):
        return None


def log(out: Path, log_name: str) -> str | None:
    """The job's log, with each Python traceback cut to its last line (the exception): what a reader needs."""
    path = out / log_name
    return without_tracebacks(path.read_text(errors="replace")) if path.exists() else None


def without_tracebacks(text: str) -> str:
    return re.sub(r"Traceback \(most recent call last\):\n(?:[ \t].*\n)*", "", text)


def failure_reason(log_text: str) -> str:
    """The last line the job wrote: `python -m explorer` ends a failed command with 'error: <reason>'."""
    lines = [line for line in log_text.splitlines() if line.strip()]
    return lines[-1].removeprefix("error: ") if lines else "it wrote nothing to its log"
