"""Feature extraction speed: tokens/s of the old path, the new one, trace_batch and a plain forward, per model.

For each shipped tiny model and the real MiniLM, over the first N EWT training sentences (default 1000):
- old: the path before issue 15: batches of 32 sentences sorted by characters, the full model with its LM head
  and eager attention (trace_batch with logits; it also copies the logits out), each sentence's word vectors
  stacked layer by layer. ELMo's old path already skipped its softmax, so it runs without; its char-CNN is the
  new one (once per distinct word), so its gain here is understated;
- new: extract_features end to end into a fresh cache (token-budget batches, base network, sdpa where the
  family can switch, rows gathered and written per batch);
- trace_batch: Model.trace_batch over the same token-budget batches, hidden states only (tokenising inside, as
  a user's call does): the goal's measure, timed batch by batch in turn with plain, each batch's fastest round
  kept;
- plain: the base network alone, as transformers builds it (AutoModel with sdpa where supported; ELMo's own
  network without its softmax) over the same token-budget batches, inputs tokenised beforehand: the reference
  the goal names. For the GPT families it runs transformers' op-by-op GELU, where ours runs torch's fused one.
The bound: this machine's float32 matmul rate (1024 x 1024, measured between the rounds, the best kept) over
2 x the non-embedding parameters per token (roughly the forward FLOPs of a token; attention's own FLOPs are left
out, and ELMo's char-CNN runs each filter along the word, so its real FLOPs are higher).

    python bench/features.py [--limit 1000] [--max-tokens 4096] [--threads 0] [--repeat 3]

Writes bench/results/features.json.
"""
import argparse
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import explorer  # noqa: E402
from explorer.features import _batches, extract_features  # noqa: E402
from explorer.data.conllu import read_conllu  # noqa: E402
from explorer.families.elmo_network import char_ids  # noqa: E402
from explorer.families.hf import HFModel  # noqa: E402
from explorer.paths import SHARED_DATA  # noqa: E402
from explorer.text import join_words  # noqa: E402
from explorer.zoo import PACKAGED, TINY, TRAINED, packaged  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "features.json"
warnings.filterwarnings("ignore")  # oneDNN's note on projected LSTMs, empty-word warnings: not what is measured


def matmul_gflops(n: int = 1024, reps: int = 10, rounds: int = 5) -> float:
    """float32 GFLOP/s of torch.matmul, n x n, the best of ``rounds`` rounds of ``reps`` products."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    return max(2 * n ** 3 * reps / timed(lambda: [a @ b for _ in range(reps)]) / 1e9 for _ in range(rounds))


def compute_params(model) -> int:
    """Parameters each token is multiplied through: the base network's, less embedding tables and the softmax."""
    net = getattr(model.net, "base_model", model.net)
    tables = [m for m in net.modules() if isinstance(m, torch.nn.Embedding) or m is getattr(net, "softmax", None)]
    skip = {id(p) for m in tables for p in m.parameters()}
    return sum(p.numel() for p in net.parameters() if id(p) not in skip)


def old_path(model, sentences):
    sdpa, model._sdpa = getattr(model, "_sdpa", False), False  # the network as loaded: eager attention
    order = sorted(range(len(sentences)), key=lambda i: sum(len(w) for w in sentences[i]))
    for start in range(0, len(order), 32):
        batch = [sentences[i] for i in order[start:start + 32]]
        for tr in model.trace_batch(batch, batch_size=32, logits=isinstance(model, HFModel)):
            torch.stack([tr.word_vectors(layer) for layer in range(tr.hidden.shape[0])]).half()
    model._sdpa = sdpa


def new_path(model, sentences, max_tokens):
    extract_features(model, sentences, max_tokens=max_tokens, device="cpu", cache_dir=tempfile.mkdtemp())


def token_budget_batches(model, sentences, max_tokens):
    """The sentences batched as the new path batches them."""
    return [[sentences[i] for i in b] for b in _batches(model.token_counts(sentences), max_tokens, None)]


def plain_inputs(model, folder, batches):
    """The plain network read from ``folder`` and its inputs for ``batches`` (tokenised here, not timed)."""
    if not isinstance(model, HFModel):
        return lambda chars, mask: model.net(chars, mask, with_logits=False), [char_ids(b) for b in batches]
    from transformers import AutoModel

    net = AutoModel.from_pretrained(folder, dtype=torch.float32,
                                    attn_implementation="sdpa" if model._sdpa else "eager").eval()
    inputs = [model.tokenizer([join_words(w)[0] for w in b], truncation=True, max_length=model.max_len,
                              padding=True, return_tensors="pt") for b in batches]
    keys = ("input_ids", "attention_mask", "token_type_ids")
    return (lambda enc: net(**{k: enc[k] for k in keys if k in enc}, output_hidden_states=True)), [(e,) for e in inputs]


def timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


@torch.no_grad()
def measure(model, folder, sentences, max_tokens, repeat) -> tuple[dict, float]:
    """The model's row (rates, no bound yet) and the best matmul rate seen between its rounds."""
    batches = token_budget_batches(model, sentences, max_tokens)
    net, inputs = plain_inputs(model, folder, batches)
    old_path(model, sentences[:40])  # warm-up
    new_path(model, sentences[:40], max_tokens)
    net(*inputs[0])
    runs = dict(old=lambda: old_path(model, sentences), new=lambda: new_path(model, sentences, max_tokens))
    seconds, gflops = dict.fromkeys(runs, float("inf")), 0.0
    per_batch = dict(trace_batch=[[] for _ in batches], plain=[[] for _ in batches])
    for _ in range(repeat):  # the paths take turns, each keeping its fastest round: a busy machine slows all alike
        gflops = max(gflops, matmul_gflops())
        for path, run in runs.items():
            seconds[path] = min(seconds[path], timed(run))
        for i, (batch, x) in enumerate(zip(batches, inputs)):  # the goal's pair, interleaved batch by batch
            per_batch["trace_batch"][i].append(timed(lambda: model.trace_batch(batch, batch_size=len(batch))))
            per_batch["plain"][i].append(timed(lambda: net(*x)))
    seconds |= {path: sum(min(times) for times in rounds) for path, rounds in per_batch.items()}
    tokens = sum(model.token_counts(sentences))
    rate = {k: tokens / s for k, s in seconds.items()}
    return dict(model=model.name, family=model.family, params=model.n_params, compute_params=compute_params(model),
                tokens=tokens, seconds={k: round(s, 2) for k, s in seconds.items()},
                tokens_per_s={k: round(r) for k, r in rate.items()}, new_over_old=round(rate["new"] / rate["old"], 2),
                of_plain={k: round(r / rate["plain"], 2) for k, r in rate.items()}), gflops


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=1000, help="first N EWT training sentences")
    parser.add_argument("--max-tokens", type=int, default=4096, help="the new path's padded positions per batch")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the four paths; each keeps its fastest")
    parser.add_argument("--model", action="append", help="model name or path (repeat); default: tiny + MiniLM")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from transformers.utils import logging

    logging.set_verbosity_error()  # AutoModel's note on the pretraining heads it leaves out of the base network
    sentences = [s.words for s in read_conllu(SHARED_DATA / "ud_english_ewt" / "en_ewt-ud-train.conllu",
                                              limit=args.limit)]
    names = args.model or [n for n in TINY if n in explorer.list_models()] + ["all-minilm-l6-v2"]
    rows, gflops = [], 0.0
    for name in names:
        folder = TRAINED / name if name in TINY else packaged(*PACKAGED[name]) if name in PACKAGED else Path(name)
        row, seen = measure(explorer.load(name), str(folder), sentences, args.max_tokens, args.repeat)
        rows.append(row)
        gflops = max(gflops, seen)
        rates = "  ".join(f"{path} {rate:>6}" for path, rate in row["tokens_per_s"].items())
        print(f"{row['model']:>16}: tokens/s {rates}  new/old {row['new_over_old']}x  of plain {row['of_plain']}",
              flush=True)
    print(f"matmul float32 (best seen): {gflops:.1f} GFLOP/s on {torch.get_num_threads()} threads")
    for row in rows:  # against the machine's best rate, as the times are each path's best
        bound = gflops * 1e9 / (2 * row["compute_params"])
        row |= dict(bound_tokens_per_s=round(bound),
                    percent_of_bound={k: round(100 * r / bound, 1) for k, r in row["tokens_per_s"].items()})
        print(f"{row['model']:>16}: % of the bound ({row['bound_tokens_per_s']} tokens/s) {row['percent_of_bound']}")
    result = dict(sentences=len(sentences), max_tokens=args.max_tokens, threads=torch.get_num_threads(),
                  repeat=args.repeat, matmul_gflops=round(gflops, 1), load_average=os.getloadavg(),
                  cpu=platform.processor() or platform.machine(), torch=torch.__version__, rows=rows)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
