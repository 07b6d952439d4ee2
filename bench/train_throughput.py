"""Training throughput and MFU of every family at its shipped size (zoo.TINY).

    python bench/train_throughput.py [--device auto] [--seconds 4] [--batch-size 32]

Model FLOPs per token = 6 x N + 12 x layers x context x d (forward + backward), where N counts the
weights that do a matmul for every token: every weight except embedding look-ups, plus the (tied)
output projection over the vocabulary; BERT's MLM head runs on the 15 % masked positions only;
ELMo's char-CNN weights count once per character position, its softmax twice (both directions), and
it has no attention term. MFU = achieved model FLOP/s / this machine's dense matmul FLOP/s, measured
in the same run with torch.matmul on a large square (and reported at the model's own shapes too).
The step is split into data, forward + backward, and optimizer time, and the share of the
forward + backward spent in the vocabulary softmax is measured on its own shapes.
Writes bench/results/train_throughput.json and prints a table.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from explorer.data.corpus import Corpus, load_corpus  # noqa: E402
from explorer.families import build  # noqa: E402
from explorer.tokenizers import KIND_OF_FAMILY, train_tokenizer  # noqa: E402
from explorer.training.loop import (TrainConfig, autocast, hardware, make_objective, make_optimizer,  # noqa: E402
                                    pick_device, Runtime, to_device)
from explorer.training.objectives import MASK_SHARE  # noqa: E402
from explorer.zoo import TINY, VOCAB_SIZE  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "gutenberg_nltk_sentences"
RESULTS = ROOT / "bench" / "results" / "train_throughput.json"


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_flops(m, k, n, device, dtype, seconds=0.5) -> float:
    """Dense matmul FLOP/s of [m, k] @ [k, n]."""
    a, b = torch.randn(m, k, device=device, dtype=dtype), torch.randn(k, n, device=device, dtype=dtype)
    torch.matmul(a, b)
    sync(device)
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.matmul(a, b)
        reps += 1
        if device.type == "cuda" and reps % 20:
            continue
        sync(device)
    sync(device)
    return 2 * m * k * n * reps / (time.perf_counter() - start)


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


def timed_steps(model, objective, optimizer, module, device, batch_size, seconds):
    """Steps until ``seconds`` have passed (after 2 warm-up steps): tokens/s and where the time goes."""
    times = dict(data=0.0, forward_backward=0.0, optimizer=0.0)
    tokens = steps = 0
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
        torch.nn.utils.clip_grad_norm_(model.net.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        sync(device)
        t3 = time.perf_counter()
        if step < 2:
            continue
        times["data"] += t1 - t0
        times["forward_backward"] += t2 - t1
        times["optimizer"] += t3 - t2
        tokens += objective.tokens(batch)
        steps += 1
        if sum(times.values()) > seconds and steps >= 3:
            break
    total = sum(times.values())
    return tokens / total, steps, {k: v / total for k, v in times.items()}


def softmax_seconds(rows, d, vocab, device) -> float:
    """Forward + backward of the vocabulary projection and cross-entropy alone, on the model's shapes."""
    h = torch.randn(rows, d, device=device, requires_grad=True)
    w = torch.randn(vocab, d, device=device, requires_grad=True)
    target = torch.randint(vocab, (rows,), device=device)
    for i in range(4):
        if i == 1:
            sync(device)
            start = time.perf_counter()
        with autocast(device):
            loss = torch.nn.functional.cross_entropy((h @ w.T).float(), target)
        loss.backward()
    sync(device)
    return (time.perf_counter() - start) / 3


def bench_family(name, corpus, device, batch_size, seconds, peak):
    family, size = TINY[name]["family"], TINY[name]["size"]
    tokenizer = train_tokenizer(KIND_OF_FAMILY[family], corpus.train, VOCAB_SIZE, size.get("context", 10_000))
    torch.manual_seed(0)
    model = build(family, tokenizer, name, **size)
    net = model.net.to(device).train()
    if getattr(net, "_supports_sdpa", False):
        net.set_attn_implementation("sdpa")  # as the training loop does
    config = TrainConfig(family=family, corpus=".", tokens=1, out=".", name=name)
    objective = make_objective(family, tokenizer, corpus, config, net)
    module = objective.module(net)
    optimizer = make_optimizer(net, config, device)
    tokens_per_s, steps, split = timed_steps(model, objective, optimizer, module, device, batch_size, seconds)
    n = flop_params(model, objective)
    context = objective.seq_len
    attention = 0 if family == "elmo" else 12 * model.n_layers * context * model.d_model
    per_token = 6 * n + attention
    achieved = per_token * tokens_per_s
    rows = batch_size * context
    d_model = model.d_model
    shape_peak = matmul_flops(rows, d_model, 4 * d_model if family != "elmo" else size["cell"] * 4, device, peak["dtype"])
    softmax_rows = round(rows * MASK_SHARE) if family == "bert" else rows * (2 if family == "elmo" else 1)
    softmax_step = softmax_seconds(softmax_rows, d_model, model.vocab_size, device)
    step_seconds = objective.tokens(objective.batch(0, batch_size)) / tokens_per_s
    return dict(
        model=name, family=family, params=model.n_params, flop_params=round(n), context=context,
        batch_size=batch_size, steps_timed=steps, tokens_per_s=round(tokens_per_s),
        model_flop_per_token=round(per_token), achieved_tflops=achieved / 1e12,
        mfu=achieved / peak["flops"], mfu_vs_model_shape_matmul=achieved / shape_peak,
        model_shape_matmul_tflops=shape_peak / 1e12,
        time_split={k: round(v, 3) for k, v in split.items()},
        softmax_share_of_step=round(min(1.0, softmax_step / step_seconds), 3),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seconds", type=float, default=4.0, help="timed seconds per family")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--models", nargs="*", default=list(TINY))
    parser.add_argument("--corpus", default=str(DATA), help="text for the tokenizers and batches")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    corpus = load_corpus(args.corpus)
    corpus = Corpus(corpus.train[:20_000], corpus.valid[:500], corpus.manifest)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    square = 8192 if device.type == "cuda" else 2048
    peak = dict(flops=matmul_flops(square, square, square, device, dtype, seconds=1.0), dtype=dtype, size=square)
    rows = [bench_family(name, corpus, device, args.batch_size, args.seconds, peak) for name in args.models]
    result = dict(hardware=hardware(Runtime(device=device)), matmul_peak_tflops=peak["flops"] / 1e12,
                  matmul_peak_shape=f"{square}x{square} @ {square}x{square} {str(dtype).replace('torch.', '')}",
                  formula="model FLOP/token = 6 x N (matmul weights per token) + 12 x layers x context x d; "
                          "MFU = achieved model FLOP/s / measured dense matmul FLOP/s", models=rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"{result['hardware']['device']} ({result['hardware']['gpu'] or result['hardware']['cpu']}), "
          f"matmul peak {result['matmul_peak_tflops'] * 1000:.0f} GFLOP/s ({result['matmul_peak_shape']})")
    print(f"{'model':<10} {'params':>10} {'tokens/s':>10} {'GFLOP/s':>9} {'MFU':>6} {'MFU@shape':>9} "
          f"{'data':>5} {'fwd+bwd':>7} {'optim':>5} {'softmax':>7}")
    for r in rows:
        s = r["time_split"]
        print(f"{r['model']:<10} {r['params']:>10,} {r['tokens_per_s']:>10,} {r['achieved_tflops'] * 1000:>9.1f} "
              f"{r['mfu']:>6.1%} {r['mfu_vs_model_shape_matmul']:>9.1%} {s['data']:>5.0%} {s['forward_backward']:>7.0%} "
              f"{s['optimizer']:>5.0%} {r['softmax_share_of_step']:>7.0%}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
