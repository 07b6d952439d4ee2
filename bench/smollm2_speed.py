"""SmolLM2-135M from its GGUF: first load (conversion), cached load, and a warm trace with attentions.

Each load runs in a fresh Python process on an empty LT_HOME, so the first one converts and the second reads
the cache; both report the whole process (imports included) and the `explorer.load` call alone.
Writes bench/results/smollm2_speed.json. Goal: a cached load <= 5 s.
Run: PYTHONPATH=. python bench/smollm2_speed.py [--runs 20]
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

# trace_latency.py's sentence (not imported from there: it imports explorer, which reads LT_HOME on import)
SENTENCE = "The old teacher sat on the bank of the river and read a letter to the quiet children ."
RESULTS = Path(__file__).parent / "results" / "smollm2_speed.json"
CHILD = """
import json, time
start = time.perf_counter()
import explorer.loading  # torch and transformers
imported = time.perf_counter()
explorer.load("smollm2-135m")
done = time.perf_counter()
print(json.dumps(dict(process_s=round(done - start, 2), imports_s=round(imported - start, 2),
                      load_s=round(done - imported, 2))))
"""


def timed_load(home: str) -> dict:
    env = dict(os.environ, LT_HOME=home)
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])


def median_ms(model, threads: int, runs: int) -> float:
    torch.set_num_threads(threads)
    for _ in range(3):
        model.trace(SENTENCE)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        model.trace(SENTENCE)  # attentions and logits included, as the app asks for them
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        first, cached = timed_load(home), timed_load(home)
        print(dict(first=first, cached=cached))
        os.environ["LT_HOME"] = home  # before explorer is imported: it reads LT_HOME then
        import explorer

        model = explorer.load("smollm2-135m")
        tokens = len(model.trace(SENTENCE).tokens)
        # As in trace_latency.py: one thread often beats two on a busy machine, so measure both.
        trace_ms = {threads: median_ms(model, threads, args.runs) for threads in sorted({1, torch.get_num_threads()})}
    result = dict(sentence=SENTENCE, tokens=tokens, runs=args.runs, first_load=first, cached_load=cached,
                  trace_median_ms_by_threads=trace_ms, load_average=os.getloadavg(),
                  cpu=platform.processor() or platform.machine())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(result)


if __name__ == "__main__":
    main()
