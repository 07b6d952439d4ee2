"""In-context learning on SST-2: how fast, and how well, with the demonstrations' prefix cached.

One draw of k demonstrations serves every dev query, so its keys and values are computed once
(prompting.score_answers with cache=True). Measures, on the same model and machine:
  - the cached and the uncached path on the same queries (scores must agree within 1e-4; their time ratio);
  - the whole dev set (872 reviews) at k = 8 on the cached path (goal: <= 10 min on 2 CPU cores), gold labels
    with and without contextual calibration;
  - prompting.icl_report on a fixed 64-query slice: k = 0 and k = 8 with every label preset.
Wall times depend on what else runs on the machine, so CPU times (process_time) and the load average are kept too.
Writes bench/results/icl_sst2.json. Run: python bench/icl_sst2.py --model smollm2-135m [--queries 872] [--compare 64]
"""
import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

import explorer
from explorer.analysis.prompting import evaluate, fit_prompt, icl_report, label_biases, score_answers
from explorer.data.tasks import get_task

RESULTS = Path(__file__).parent / "results" / "icl_sst2.json"


def timed(run):
    wall, cpu = time.perf_counter(), time.process_time()
    out = run()
    return out, dict(wall_s=round(time.perf_counter() - wall, 2), cpu_s=round(time.process_time() - cpu, 2))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2-135m", help="a causal model name or folder")
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--queries", type=int, default=872, help="dev queries for the full run (0: skip it)")
    parser.add_argument("--compare", type=int, default=64, help="queries timed on both the cached and uncached path")
    parser.add_argument("--report", type=int, default=64, help="queries of the label-preset report (0: skip it)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    model, load = timed(lambda: explorer.load(args.model))
    task = get_task("sst2")
    result = dict(model=model.name, params=model.n_params, task=task.name, k=args.k, load=load,
                  threads=torch.get_num_threads(), cpus=os.cpu_count(), cpu=platform.processor() or platform.machine())
    prompts = [fit_prompt(model, task, i, args.k, 0).text for i in range(args.compare)]
    options = [[" negative", " positive"]] * len(prompts)
    score_answers(model, prompts[:2], options[:2])  # warm-up: weights paged in, threads started
    cached, t_cached = timed(lambda: np.array(score_answers(model, prompts, options, cache=True)))
    plain, t_plain = timed(lambda: np.array(score_answers(model, prompts, options, cache=False)))
    result["cached_vs_uncached"] = dict(queries=len(prompts), cached=t_cached, uncached=t_plain,
                                        wall_ratio=round(t_plain["wall_s"] / t_cached["wall_s"], 2),
                                        cpu_ratio=round(t_plain["cpu_s"] / t_cached["cpu_s"], 2),
                                        max_abs_diff=float(np.abs(cached - plain).max()))
    print(json.dumps(result["cached_vs_uncached"]))
    if args.queries:
        ev, t_full = timed(lambda: evaluate(model, task, args.k, 0, args.queries, calibrated=True))
        result["full_dev"] = dict(queries=len(ev.predictions), time=t_full, shots_used=ev.shots_used,
                                  accuracy=float(ev.predictions.raw_correct.mean()), calibrated=ev.accuracy,
                                  biases=label_biases(ev.predictions, "raw_answer"),
                                  calibrated_biases=label_biases(ev.predictions))
        print(json.dumps(result["full_dev"]))
    if args.report:
        result["presets"], result["presets_time"] = timed(lambda: icl_report(model, task, args.k, args.report))
        print(json.dumps(result["presets"]))
    result["load_average"] = os.getloadavg()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
