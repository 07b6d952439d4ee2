"""Attention views at 32, 128 and 512 tokens: build time, payload size and browser render time.

Models: a randomly initialised 12-layer BERT-base-shaped model (768 wide, 12 heads, 512 positions;
random weights time the same as trained ones) and every shipped tiny model that is trained (at
most its own context). For each view: the seconds to build the plotly figure in Python, its size
as plotly JSON, and the milliseconds Chromium (Debian's /usr/bin/chromium, through Playwright)
takes in Plotly.newPlot. Also the trace itself, head scores, rollout and attention flow into the
last token (or the reason it is refused). Text: Alice in Wonderland from ../shared/data.

Writes bench/results/attention_views.json and .md. Run: python bench/attention_views.py [--sizes 32 128 512]
"""
import argparse
import json
import platform
import time
from pathlib import Path

import plotly
import torch

import explorer
from explorer.analysis import attention as A
from explorer.errors import ExplorerError
from explorer.families import build
from explorer.tokenizers import train_tokenizer
from explorer.paths import SHARED_DATA
from explorer.zoo import TINY

ROOT = Path(__file__).resolve().parent.parent
TEXT_FILE = SHARED_DATA / "gutenberg_nltk_sentences" / "carroll-alice.txt"
RESULTS = ROOT / "bench" / "results"
CHROMIUM = "/usr/bin/chromium"


def bert_base_shaped(lines):
    torch.manual_seed(0)
    tok = train_tokenizer("wordpiece", lines, vocab_size=8192, max_len=512)
    return build("bert", tok, "random-bert-base-shape", d_model=768, n_layers=12, n_heads=12, context=512)


def text_of(model, words: list[str], n_tokens: int) -> str:
    """The longest prefix of ``words`` that the model reads as at most n_tokens tokens (specials included)."""
    lo, hi = 1, len(words)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(model.tokenizer(" ".join(words[:mid]))["input_ids"]) <= n_tokens:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo])


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


class Browser:
    """One Chromium page with plotly.js loaded; render(fig) -> ms spent in Plotly.newPlot."""

    def __init__(self):
        from playwright.sync_api import sync_playwright

        self.pw = sync_playwright().start()
        self.browser = self.pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        self.page = self.browser.new_page(viewport=dict(width=1400, height=1000))
        js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
        self.page.set_content('<div id="plot"></div>')
        self.page.add_script_tag(path=str(js))

    def render(self, fig) -> float:
        return self.page.evaluate(
            """async (spec) => { const fig = JSON.parse(spec); await Plotly.purge('plot');
                 const t = performance.now(); await Plotly.newPlot('plot', fig.data, fig.layout);
                 return performance.now() - t; }""", fig.to_json())

    def close(self):
        self.browser.close()
        self.pw.stop()


def measure(model, words, n_tokens, browser) -> dict:
    text = text_of(model, words, n_tokens)
    trace, t_trace = timed(lambda: model.trace(text))
    att = A.attention(trace)
    row = dict(model=model.name, asked_tokens=n_tokens, tokens=len(trace.tokens), layers=att.shape[0],
               heads=att.shape[1], trace_s=round(t_trace, 3))
    row["head_scores_s"] = round(timed(lambda: A.head_scores(trace))[1], 3)
    row["rollout_s"] = round(timed(lambda: A.rollout(att))[1], 3)
    try:
        row["flow_last_token_s"] = round(timed(lambda: A.attention_flow(att, [att.shape[-1] - 1]))[1], 3)
    except ExplorerError as e:
        row["flow_last_token_s"] = None
        row["flow_refused"] = str(e)
    views = {
        # min_weight 0: the worst case, every token keeps its top-k edges however weak
        "head_view": lambda: A.head_view(trace, layer=att.shape[0] - 1, min_weight=0.0),
        "model_view": lambda: A.model_view(trace),
        "head_heatmap": lambda: A.head_heatmap(trace, 0, 0),
        "rollout_figure": lambda: A.rollout_figure(trace),
    }
    for name, make in views.items():
        fig, seconds = timed(make)
        row[f"{name}_build_s"] = round(seconds, 3)
        row[f"{name}_json_kb"] = round(len(fig.to_json()) / 1024, 1)
        if browser is not None:
            browser.render(fig)  # first draw warms the page up
            row[f"{name}_render_ms"] = round(min(browser.render(fig) for _ in range(2)), 1)
    print({k: v for k, v in row.items() if k != "flow_refused"}, flush=True)
    return row


def markdown(result) -> str:
    views = ("head_view", "model_view", "head_heatmap", "rollout_figure")
    head = ("| model | tokens | trace s | flow (last token) s | "
            + " | ".join(f"{v} build s / KB / render ms" for v in views) + " |")
    lines = [f"Attention views, {result['cpu']}, {result['torch_threads']} torch threads; text {result['text']}. "
             "Build s: Python time to make the plotly figure; KB: its plotly JSON; render ms: Plotly.newPlot in "
             f"headless {result['browser']} (software WebGL). Head view at min_weight 0 (worst case, edge budget "
             "on). Wall-clock times on a shared machine: compare orders of magnitude, not digits.", "",
             head, "|" + "---|" * (4 + len(views))]
    for r in result["rows"]:
        flow = "refused" if r["flow_last_token_s"] is None else r["flow_last_token_s"]
        cells = [f"{r[f'{v}_build_s']} / {r[f'{v}_json_kb']} / {r.get(f'{v}_render_ms', '-')}" for v in views]
        lines.append(f"| {r['model']} | {r['tokens']} | {r['trace_s']} | {flow} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 128, 512])
    parser.add_argument("--no-browser", action="store_true", help="skip the render times")
    args = parser.parse_args()
    lines = [line.strip() for line in TEXT_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    words = " ".join(lines).split()
    models = [bert_base_shaped(lines)] + [explorer.load(n) for n in TINY
                                          if n in explorer.list_models() and TINY[n]["family"] != "elmo"]
    browser = None if args.no_browser else Browser()
    rows = []
    try:
        for model in models:
            for n in sorted({min(n, model.max_len) for n in args.sizes}):
                rows.append(measure(model, words, n, browser))
    finally:
        if browser is not None:
            browser.close()
    result = dict(text=str(TEXT_FILE.relative_to(ROOT.parent)), torch_threads=torch.get_num_threads(),
                  cpu=platform.processor() or platform.machine(), browser=None if browser is None else CHROMIUM,
                  rows=rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "attention_views.json").write_text(json.dumps(result, indent=1))
    (RESULTS / "attention_views.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
