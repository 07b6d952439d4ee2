"""App latency in a real browser (Playwright + Debian's chromium), written to bench/results/app_latency.json.

1. Cold start: from launching `streamlit run app.py` to the first page interactive in the browser (the script
   has finished its first run), and to the Compare page with every figure drawn (models loaded on first use).
2. Warm rerun: the Compare page re-submitted with a sentence it has seen (cached analyses), and with a new one.
3. Load: one browser session typing new sentences on Compare for a while, then 8 concurrent sessions for
   2 minutes; errors (error boxes, exceptions) and p50/p95 interaction time (Enter to the run finished).

Uses the shipped models when trained/ holds them, else small random models of three families (say which).
Compass goals: cold <= 10 s, warm <= 1 s, 0 errors and p95 <= 2x single-user under 8 sessions.

    python bench/app_latency.py [--sessions 8] [--seconds 120] [--single-seconds 60]
"""
import argparse
import asyncio
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHROMIUM = "/usr/bin/chromium"
LOCAL = ("http://localhost", "http://127.0.0.1", "ws://", "data:", "blob:")
BOX = "Sentence with one blank"
ADJ = "old quiet red happy strange tiny brave cold bright gentle".split()
NOUN = "dog teacher river child garden letter window ship farmer queen".split()


def sentence(rng: random.Random, n: int) -> str:
    """A new sentence each time (a counter word keeps it out of the cache), with one blank."""
    return (f"The {rng.choice(ADJ)} {rng.choice(NOUN)} saw the ___ near the {rng.choice(NOUN)} "
            f"{n % 97} times .")


def models_home() -> tuple[Path, str]:
    """An LT_HOME with models to pick: empty when the shipped models exist (the app picks those)."""
    from explorer.zoo import TINY, TRAINED

    home = Path(tempfile.mkdtemp(prefix="lt_bench_home_"))
    if all((TRAINED / n / "config.json").exists() for n in TINY):
        return home, "shipped: " + ", ".join(TINY)
    from tests.conftest import make_tiny

    for family in ("bert", "gpt2", "elmo"):
        make_tiny(family).save(home / "models" / f"{family}-small", {"note": "bench model"})
    return home, "small random test models (bert, gpt2, elmo): trained/ is not complete"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(home: Path, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=dict(os.environ, LT_HOME=str(home)), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def wait_healthy(port: int, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("streamlit did not start")


async def script_state(page) -> str | None:
    return await page.locator('[data-testid="stApp"]').get_attribute("data-test-script-state")


async def settled(page, timeout: float = 300) -> None:
    """Until the script run is over and nothing is loading (checked twice, 100 ms apart)."""
    deadline, quiet = time.time() + timeout, 0
    while time.time() < deadline:
        busy = await script_state(page) != "notRunning" or await page.locator('[data-testid="stSkeleton"]').count()
        quiet = 0 if busy else quiet + 1
        if quiet >= 2:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the page kept running")


async def interact(page, text: str) -> float:
    """Type ``text`` into the Compare box and press Enter: seconds until its run is over."""
    field = page.get_by_label(BOX, exact=True)
    await field.fill(text)
    start = time.perf_counter()
    await field.press("Enter")
    deadline = time.time() + 3  # the run starts within a few frames; a cached rerun may be over before we look
    while await script_state(page) == "notRunning" and time.time() < deadline:
        await asyncio.sleep(0.01)
    await settled(page)
    return time.perf_counter() - start


async def errors_on(page) -> int:
    return (await page.locator('[data-testid="stAlertContentError"]').count()
            + await page.locator('[data-testid="stException"]').count())


async def open_page(browser, url: str, outside: list):
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()

    async def route(r):
        if r.request.url.startswith(LOCAL):
            await r.continue_()
        else:
            outside.append(r.request.url)
            await r.abort()

    await page.route("**/*", route)
    await page.goto(url)
    await page.wait_for_selector("h1", timeout=300_000)
    await settled(page)
    return context, page


async def session_loop(browser, url: str, seconds: float, seed: int, outside: list) -> dict:
    context, page = await open_page(browser, f"{url}/compare", outside)
    rng, times, errors, n = random.Random(seed), [], 0, 0
    end = time.time() + seconds
    while time.time() < end:
        n += 1
        try:
            times.append(await interact(page, sentence(rng, seed * 10_000 + n)))
            errors += await errors_on(page)
        except Exception:  # a timeout or a lost page counts as an error
            errors += 1
    await context.close()
    return dict(times=times, errors=errors)


def summary(results: list[dict], seconds: float) -> dict:
    times = sorted(t for r in results for t in r["times"])
    q = statistics.quantiles(times, n=20, method="inclusive") if len(times) >= 2 else times * 19
    return dict(sessions=len(results), seconds=seconds, interactions=len(times),
                errors=sum(r["errors"] for r in results), p50_s=round(statistics.median(times), 3),
                p95_s=round(q[18], 3), max_s=round(times[-1], 3))


async def main(args) -> dict:
    from playwright.async_api import async_playwright

    home, models = models_home()
    port, outside = free_port(), []
    url = f"http://127.0.0.1:{port}"
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        start = time.perf_counter()
        server = launch(home, port)
        try:
            wait_healthy(port)
            context, page = await open_page(browser, url, outside)
            cold = time.perf_counter() - start
            await page.goto(f"{url}/compare")
            await page.wait_for_selector("h1")
            await settled(page)
            cold_compare = time.perf_counter() - start
            seen = "The quiet farmer found the ___ in the garden ."
            await interact(page, seen)
            new_times, cached_times = [], []
            for i in range(5):
                new_times.append(await interact(page, sentence(random.Random(i), 500_000 + i)))
                cached_times.append(await interact(page, seen))
            await context.close()
            single = [await session_loop(browser, url, args.single_seconds, 1, outside)]
            many = await asyncio.gather(*(session_loop(browser, url, args.seconds, 100 + s, outside)
                                          for s in range(args.sessions)))
        finally:
            server.terminate()
            server.wait(timeout=30)
            await browser.close()
    one, load = summary(single, args.single_seconds), summary(many, args.seconds)
    return dict(
        what="Streamlit app latency in Debian chromium via Playwright (bench/app_latency.py)",
        machine=dict(cpus=os.cpu_count(), platform=platform.platform(), python=platform.python_version()),
        models=models,
        cold_start_to_first_page_s=round(cold, 2),
        cold_start_to_compare_with_figures_s=round(cold_compare, 2),
        warm_rerun_cached_s=dict(median=round(statistics.median(cached_times), 3), runs=len(cached_times)),
        rerun_new_sentence_s=dict(median=round(statistics.median(new_times), 3), runs=len(new_times)),
        single_session=one, concurrent=load,
        p95_ratio_concurrent_to_single=round(load["p95_s"] / one["p95_s"], 2),
        requests_leaving_the_machine=sorted(set(outside)),
        goals=dict(cold_s=10, warm_s=1, errors=0, p95_ratio=2),
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=120, help="duration of the concurrent phase")
    parser.add_argument("--single-seconds", type=float, default=60, help="duration of the one-session baseline")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "app_latency.json"))
    arguments = parser.parse_args()
    result = asyncio.run(main(arguments))
    Path(arguments.out).parent.mkdir(parents=True, exist_ok=True)
    Path(arguments.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
