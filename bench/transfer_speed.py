"""Fine-tuning speed (issue 14's goals), every ratio from one run on this machine.

    python bench/transfer_speed.py [--models bert-tiny,gpt2-tiny] [--n 1000] [--full-epoch bert-tiny]

1. `transfer.finetune` on n SST-2 training phrases for 3 epochs: wall seconds (goal <= 60 s on 2 cores).
2. Our loop's tokens/s against a plain hand-written torch loop over the same phrases, model and budget
   (AdamW, [CLS]/last-token + linear, cross-entropy; ours timed again without GPT's auxiliary LM loss, which the
   plain loop lacks): once in random batches (what a plain loop does) and once in
   our length-grouped order (the same padding: what is left is our loop's own overhead).
3. One epoch over the full SST-2 train (67,349 phrases) with the first of --full-epoch (goal <= 10 min).
Peak memory with MiniLM comes from `/usr/bin/time -v` of its full fine-tuning run (see bench/results/transfer.md).
Writes bench/results/transfer_speed.json and prints a table.
"""
import argparse
import copy
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn
from transformers.trainer_pt_utils import LengthGroupedSampler

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from explorer.transfer import data, modes  # noqa: E402
from explorer.transfer.network import TrainSettings, classifier, fit  # noqa: E402
from explorer.zoo import load  # noqa: E402

SETTINGS = TrainSettings(epochs=3, batch_size=32, lr=1e-4)


def tokens_of(model, rows) -> int:
    """Real (unpadded) tokens of ``rows`` as the model's tokenizer reads them."""
    return sum(len(ids) for ids in model.tokenizer([r.text for r in rows], verbose=False)["input_ids"])


def plain_loop(model, rows, grouped: bool, seed: int = 0) -> float:
    """A hand-written fine-tuning loop: tokenizer -> network -> first/last token -> linear -> cross-entropy."""
    torch.manual_seed(seed)
    net = copy.deepcopy(model.net).train()
    net = getattr(net, "base_model", net)
    classes = sorted({r.label for r in rows})
    head = nn.Linear(model.d_model, len(classes))
    params = list(net.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=SETTINGS.lr, weight_decay=SETTINGS.weight_decay)
    labels = torch.tensor([classes.index(r.label) for r in rows], dtype=torch.long)
    gen = torch.Generator().manual_seed(seed)
    lengths = [len(r.text) for r in rows]
    tok = model.tokenizer
    start = time.perf_counter()
    for _ in range(SETTINGS.epochs):
        order = list(LengthGroupedSampler(SETTINGS.batch_size, lengths=lengths, generator=gen)) if grouped \
            else torch.randperm(len(rows), generator=gen).tolist()
        for i in range(0, len(rows), SETTINGS.batch_size):
            idx = order[i:i + SETTINGS.batch_size]
            enc = tok([rows[j].text for j in idx], padding=True, truncation=True, max_length=model.max_len,
                      return_tensors="pt")
            hidden = net(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
            last = enc["attention_mask"].sum(1) - 1
            reps = hidden[:, 0] if not model.causal else hidden[torch.arange(len(idx)), last]
            loss = nn.functional.cross_entropy(head(reps), labels[idx])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, SETTINGS.clip)
            opt.step()
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="bert-tiny,gpt2-tiny")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--full-epoch", default="bert-tiny", help="model for the full-train epoch ('' to skip)")
    ap.add_argument("--out", default=str(ROOT / "bench/results/transfer_speed.json"))
    args = ap.parse_args()
    task = data.sst2(None, 64)
    rows, _ = data.subsample(task.train, args.n, 0)
    results = dict(threads=torch.get_num_threads(), n=args.n, epochs=SETTINGS.epochs, models={})
    for name in args.models.split(","):
        model = load(name)
        tokens = tokens_of(model, rows) * SETTINGS.epochs
        ours = modes.finetune(model, task, args.n, 0, SETTINGS).seconds
        # the plain loop has no auxiliary LM loss: time ours without it too (the same work, loop against loop)
        ours_no_lm = modes.finetune(model, task, args.n, 0, replace(SETTINGS, lm_weight=0)).seconds \
            if model.causal else ours
        plain_random = plain_loop(model, rows, grouped=False)
        plain_grouped = plain_loop(model, rows, grouped=True)
        r = dict(finetune_seconds=ours, finetune_seconds_no_lm=ours_no_lm, tokens=tokens,
                 ours_tokens_per_s=tokens / ours, ours_no_lm_tokens_per_s=tokens / ours_no_lm,
                 plain_random_tokens_per_s=tokens / plain_random, plain_grouped_tokens_per_s=tokens / plain_grouped,
                 ratio_vs_plain_random=plain_random / ours_no_lm, ratio_vs_plain_grouped=plain_grouped / ours_no_lm)
        results["models"][name] = r
        print(f"{name}: finetune {args.n} x {SETTINGS.epochs} epochs {ours:.1f} s ({ours_no_lm:.1f} s without the "
              f"LM loss); tokens/s ours {r['ours_no_lm_tokens_per_s']:.0f}, plain random "
              f"{r['plain_random_tokens_per_s']:.0f} ({r['ratio_vs_plain_random']:.2f}x), plain grouped "
              f"{r['plain_grouped_tokens_per_s']:.0f} ({r['ratio_vs_plain_grouped']:.2f}x)", flush=True)
    if args.full_epoch:
        model = load(args.full_epoch)
        start = time.perf_counter()
        clf = classifier(copy.deepcopy(model), sorted(set(task.labels(task.train))), "sentence")
        fit(clf, task.train, TrainSettings(epochs=1, progress=True), 0)
        seconds = time.perf_counter() - start
        results["full_epoch"] = dict(model=args.full_epoch, rows=len(task.train), seconds=seconds)
        print(f"{args.full_epoch}: one epoch over {len(task.train)} phrases in {seconds / 60:.1f} min")
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
