"""Training runs as background processes (explorer/training/runs.py), against a stand-in for `explorer train`
(conftest.fake_train) that writes what a run writes: status, stop, resume, metrics and failures, in seconds."""
import argparse
import json
import os

from conftest import _sentences, wait_for
from explorer import jobs
from explorer.training import cli
from explorer.training.config import TrainConfig


def config(tmp_path, name="run"):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(_sentences(200)) + "\n")
    return TrainConfig(family="gpt2", corpus=corpus, tokens=1000, out=tmp_path / "models" / name, name=name,
                       size=dict(d_model=32, n_layers=2, n_heads=2, context=32), batch_size=8, checkpoint_every=3)


def test_a_run_is_running_then_stopped_then_resumed_to_the_end(fake_train, tmp_path):
    runs = fake_train
    out = runs.launch(config(tmp_path))
    assert runs.status(out) == "running"
    wait_for(lambda: runs.status(out) == "running" and len(runs.metrics(out)) == 3, "the run's first metrics")
    assert [m["step"] for m in runs.metrics(out)] == [1, 2, 3]
    runs.stop(out)
    assert runs.status(out) == "stopped"
    assert runs.runs(tmp_path / "models") == [out]
    runs.resume(out)
    assert "--resume" in json.loads((out / runs.RUN_FILE).read_text())["args"]
    jobs._PROCESSES[str(out)].wait()
    assert runs.status(out) == "finished"
    assert [m["step"] for m in runs.metrics(out)] == [1, 2, 3, 4, 5, 6]
    assert runs.log(out).count("$ ") == 2  # each launch's command line heads its part of the log


def test_the_launched_command_line_is_the_configurations_own(fake_train, tmp_path):
    """The page and the CLI share TrainConfig's flags: what the page launches parses back to its config."""
    runs = fake_train
    wanted = config(tmp_path)
    out = runs.launch(wanted)
    args = json.loads((out / runs.RUN_FILE).read_text())["args"]
    runs.stop(out)
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    parsed = parser.parse_args(args)
    assert TrainConfig.from_args(parsed) == wanted and parsed.force and parsed.no_progress


def test_a_run_started_by_an_earlier_app_process_is_found_and_stopped(fake_train, tmp_path, monkeypatch):
    runs = fake_train
    out = runs.launch(config(tmp_path))
    process = jobs._PROCESSES[str(out)]
    wait_for(lambda: len(runs.metrics(out)) == 3, "the run's first metrics")
    monkeypatch.setattr(jobs, "_PROCESSES", {})  # a new app process: only the pid in app_run.json is left
    assert runs.status(out) == "running"  # read from /proc
    runs.stop(out)
    process.wait()
    assert runs.status(out) == "stopped"
    (out / runs.RUN_FILE).write_text(json.dumps(dict(pid=os.getpid())))  # a live pid, but not a training process
    assert runs.status(out) == "stopped"


def test_a_failed_run_shows_its_reason_not_a_traceback(fake_train, tmp_path):
    runs = fake_train
    out = runs.launch(config(tmp_path, "fails"))
    jobs._PROCESSES[str(out)].wait()
    assert runs.status(out) == "failed"
    assert "Traceback" not in runs.log(out) and "loop.py" not in runs.log(out)
    assert runs.failure_reason(runs.log(out)) == "the corpus is empty"


def test_failure_reason_is_the_exception_or_the_error_line():
    from explorer.training import runs

    log = ("$ -m explorer train gpt2\nTraceback (most recent call last):\n  File \"loop.py\", line 9, in run\n"
           "    x = sums['lm']\nKeyError: 'lm'\n")
    shown = runs.without_tracebacks(log)
    assert "Traceback" not in shown and "loop.py" not in shown
    assert runs.failure_reason(shown) == "KeyError: 'lm'"
    assert runs.failure_reason("$ run\nerror: the corpus is empty\n") == "the corpus is empty"
    assert runs.failure_reason("") == "it wrote nothing to its log"


def test_a_folder_without_a_log_is_starting_and_no_runs_folder_lists_none(tmp_path):
    from explorer.training import runs

    assert runs.status(tmp_path) == "starting"
    assert runs.runs(tmp_path / "absent") == []


def test_a_real_run_in_the_background_finishes_with_its_model(tmp_path):
    """End to end, once: `explorer train` as runs.launch starts it, waited for (no clock), tiny."""
    from explorer.training import runs

    wanted = config(tmp_path)
    out = runs.launch(wanted)
    assert jobs._PROCESSES.pop(str(out)).wait() == 0, runs.log(out)
    assert runs.status(out) == "finished" and (out / "model.safetensors").exists()
    assert runs.metrics(out)[-1]["tokens"] >= wanted.tokens
    assert "preparing (4/4): tokenizing the corpus" in runs.log(out)


def test_preparation_is_read_from_this_launchs_log(tmp_path):
    from explorer.training import runs

    assert runs.preparation(tmp_path) is None
    (tmp_path / runs.LOG_FILE).write_text("\n$ -m explorer train gpt2\npreparing (1/4): reading the corpus\n"
                                          "preparing (2/4): training the tokenizer\n")
    assert runs.preparation(tmp_path) == (0.25, "training the tokenizer")
    with open(tmp_path / runs.LOG_FILE, "a") as log:
        log.write("\n$ -m explorer train gpt2 --resume\n")
    assert runs.preparation(tmp_path) is None
