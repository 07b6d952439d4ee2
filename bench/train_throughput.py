"""Training throughput and MFU of every family at its shipped size (zoo.TINY).

    python bench/train_throughput.py [--device auto] [--seconds 3] [--batch-size N] [--corpus DIR]

Model FLOPs per token = 6 x N + 12 x layers x context x d (forward + backward), where N counts the
weights that do a matmul for every token: every weight except embedding look-ups, plus the (tied)
output projection over the vocabulary; BERT's MLM head runs on the 15 % masked positions only;
ELMo's char-CNN weights count once per character position, its softmax twice (both directions), and
it has no attention term. MFU = achieved model FLOP/s / this machine's dense matmul FLOP/s, measured
in the same run with torch.matmul on a large square (and reported at the model's own shapes too).
Other processes may share the machine, so both sides of the ratio are best cases: MFU uses the
fastest step and the fastest matmul burst seen in the run (tokens/s is also given as the median).
The median step is split into data, forward + backward and optimizer time, and the vocabulary
softmax (projection + cross-entropy, forward + backward) is timed alone on the model's shapes.
Writes bench/results/train_throughput.json and prints a table.
"""
import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from explorer.data.corpus import Corpus, load_corpus  # noqa: E402
from explorer.distributed import Runtime, pick_device  # noqa: E402
from explorer.families import build  # noqa: E402
from explorer.families import family as spec  # noqa: E402
from explorer.tokenizers import train_tokenizer  # noqa: E402
from explorer.training.config import TrainConfig  # noqa: E402
from explorer.training.loop import autocast, hardware, make_objective, make_optimizer, to_device  # noqa: E402
from explorer.training.objectives import MASK_SHARE  # noqa: E402
from explorer.paths import SHARED_DATA  # noqa: E402
from explorer.zoo import TINY, VOCAB_SIZE  # noqa: E402

DATA = SHARED_DATA / "gutenberg_nltk_sentences"
RESULTS = ROOT / "bench" / "results" / "train_throughput.json"


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_flops(m, k, n, device, dtype, seconds=0.5) -> float:
    """Dense matmul FLOP/s of [m, k] @ [k, n]: the best of short timed bursts (other processes share the CPU)."""
    a, b = torch.randn(m, k, device=device, dtype=dtype), torch.randn(k, n, device=device, dtype=dtype)
    torch.matmul(a, b)
    sync(device)
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        reps, start = 0, time.perf_counter()
        while reps < 3 or time.perf_counter() - start < 0.05:
            torch.matmul(a, b)
            reps += 1
        sync(device)
        best = max(best, 2 * m * k * n * reps / (time.perf_counter() - start))
    return best


def flop_params(model, objective) -> float:
    """Weights that do a matmul per token (see the module docstring)."""
    net, d, vocab = model.net, model.d_model, model.vocab_size
    if model.family == "elmo":
        enc = net.char_encoder
        conv = sum(c.weight.numel() * (net.max_chars - c.kernel_size[0] + 1) for c in enc.convolutions)
        dense = sum(p.numel() for m in [*enc.highways, enc.projection] for p in m.parameters() if p.dim() == 2)
        lstm = sum(p.numel() for stack in (net.forward_lstms, net.backward_lstms) for p in stack.parameters() if p.dim() == 2)
        return conv + dense + lstm + 2 * vocab * d
    embeddings = sum(m.weight.numel() for m in net.modules() if isinstance(m, torch.nn.Embedding))
    body = model.n_params - embeddings
    head = vocab * d * (MASK_SHARE if model.family == "bert" else 1)
    return body + head


def timed_steps(objective, optimizer, module, net, device, batch_size, seconds):
    """Steps for ``seconds`` after 2 warm-up steps: each step's data, forward + backward and optimizer time."""
    steps = []
    deadline = None
    for step in range(10_000):
        t0 = time.perf_counter()
        batch = objective.batch(step * batch_size, batch_size)
        rows = to_device(batch.rows(0, batch.size), device)
        sync(device)
        t1 = time.perf_counter()
        with autocast(device):
            loss, _ = module(batch.norm, **rows)
        loss.backward()
        sync(device)
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        sync(device)
        t3 = time.perf_counter()
        if step == 1:
            deadline = t3 + seconds
        if step >= 2:
            steps.append((objective.tokens(batch), t1 - t0, t2 - t1, t3 - t2))
            if t3 > deadline and len(steps) >= 3:
                return steps
    return steps


def softmax_seconds(rows, d, vocab, device) -> float:
    """Forward + backward of the vocabulary projection and cross-entropy alone, on the model's shapes."""
    h = torch.randn(rows, d, device=device, requires_grad=True)
    w = torch.randn(vocab, d, device=device, requires_grad=True)
    target = torch.randint(vocab, (rows,), device=device)
    best = math.inf
    for i in range(5):
        start = time.perf_counter()
        with autocast(device):
            loss = torch.nn.functional.cross_entropy((h @ w.T).float(), target)
        loss.backward()
        sync(device)
        best = min(best, time.perf_counter() - start) if i else best
    return best


def bench_family(name, corpus, device, batch_size, seconds, peak):
    family, size = TINY[name]["family"], TINY[name]["size"]
    tokenizer = train_tokenizer(spec(family).tokenizer, corpus.train, VOCAB_SIZE, size.get("context", 10_000))
    torch.manual_seed(0)
    model = build(family, tokenizer, name, **size)
    net = model.net.to(device).train()
    if getattr(net, "_supports_sdpa", False):
        net.set_attn_implementation("sdpa")  # as the training loop does
    config = TrainConfig(family=family, corpus=".", tokens=1, out=".", name=name)
    objective = make_objective(model.spec, tokenizer, corpus, config, net)
    module = objective.module(net)
    optimizer = make_optimizer(net, config, device)
    steps = timed_steps(objective, optimizer, module, net, device, batch_size, seconds)
    per_step = [tokens / (data + fb + opt) for tokens, data, fb, opt in steps]
    median_step = sorted(steps, key=lambda s: sum(s[1:]))[len(steps) // 2]
    split = dict(zip(("data", "forward_backward", "optimizer"), (t / sum(median_step[1:]) for t in median_step[1:])))
    tokens_per_s, best_tokens_per_s = statistics.median(per_step), max(per_step)
    n = flop_params(model, objective)
    context = objective.seq_len
    attention = 0 if family == "elmo" else 12 * model.n_layers * context * model.d_model
    per_token = 6 * n + attention
    achieved = per_token * best_tokens_per_s
    d_model = model.d_model
    rows = batch_size * context
    inner = 4 * d_model if family != "elmo" else 4 * size["cell"]
    shape_peak = matmul_flops(rows, d_model, inner, device, peak["dtype"])
    peak["flops"] = max(peak["flops"], matmul_flops(peak["size"], peak["size"], peak["size"], device, peak["dtype"]))
    softmax_rows = round(rows * MASK_SHARE) if family == "bert" else rows * (2 if family == "elmo" else 1)
    softmax_step = softmax_seconds(softmax_rows, d_model, model.vocab_size, device)
    return dict(
        model=name, family=family, params=model.n_params, flop_params=round(n), context=context,
        batch_size=batch_size, steps_timed=len(steps), tokens_per_s=round(tokens_per_s),
        best_tokens_per_s=round(best_tokens_per_s), model_flop_per_token=round(per_token),
        achieved_tflops=achieved / 1e12, mfu=achieved / peak["flops"], mfu_vs_model_shape_matmul=achieved / shape_peak,
        model_shape_matmul_tflops=shape_peak / 1e12,
        time_split={k: round(v, 3) for k, v in split.items()},
        softmax_share_of_step=round(min(1.0, softmax_step * best_tokens_per_s / median_step[0]), 3),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per family")
    parser.add_argument("--batch-size", type=int, help="sequences per step (default: 32 on a GPU, 8 on a CPU)")
    parser.add_argument("--models", nargs="*", default=list(TINY))
    parser.add_argument("--corpus", default=str(DATA), help="text for the tokenizers and batches")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    batch_size = args.batch_size or (32 if device.type == "cuda" else 8)
    corpus = load_corpus(args.corpus)
    corpus = Corpus(corpus.train[:20_000], corpus.valid[:500], corpus.manifest)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    square = 8192 if device.type == "cuda" else 2048
    peak = dict(flops=matmul_flops(square, square, square, device, dtype, seconds=1.0), dtype=dtype, size=square)
    rows = []
    for name in args.models:
        rows.append(bench_family(name, corpus, device, batch_size, args.seconds, peak))
        print(f"{name}: {rows[-1]['tokens_per_s']:,} tokens/s", flush=True)
    for row in rows:  # against the best peak seen in the whole run
        row["mfu"] = row["achieved_tflops"] * 1e12 / peak["flops"]
    result = dict(hardware=hardware(Runtime(device=device)), matmul_peak_tflops=peak["flops"] / 1e12,
                  matmul_peak_shape=f"{square}x{square} @ {square}x{square} {str(dtype).replace('torch.', '')}",
                  formula="model FLOP/token = 6 x N (matmul weights per token) + 12 x layers x context x d; "
                          "MFU = achieved model FLOP/s / measured dense matmul FLOP/s", models=rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"{result['hardware']['device']} ({result['hardware']['gpu'] or result['hardware']['cpu']}), "
          f"matmul peak {result['matmul_peak_tflops'] * 1000:.0f} GFLOP/s ({result['matmul_peak_shape']})")
    print(f"{'model':<10} {'params':>10} {'tokens/s':>9} {'best':>9} {'GFLOP/s':>8} {'MFU':>6} {'MFU@shape':>9} "
          f"{'data':>5} {'fwd+bwd':>7} {'optim':>5} {'softmax':>7}")
    for r in rows:
        s = r["time_split"]
        print(f"{r['model']:<10} {r['params']:>10,} {r['tokens_per_s']:>9,} {r['best_tokens_per_s']:>9,} "
              f"{r['achieved_tflops'] * 1000:>8.1f} "
              f"{r['mfu']:>6.1%} {r['mfu_vs_model_shape_matmul']:>9.1%} {s['data']:>5.0%} {s['forward_backward']:>7.0%} "
              f"{s['optimizer']:>5.0%} {r['softmax_share_of_step']:>7.0%}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
