"""How fast do GPT-2 and BERT learn to copy by position? A diagnostic for bert-tiny's slow start.

Two toy tasks over 500 random word ids that only positional attention solves, same size (2 layers x 128,
2 heads), optimizer (AdamW 1e-3, betas 0.9/0.95), batch (32 x 64 tokens) and steps:
  - GPT-2 (pre-LN decoder): a random half repeated; loss on the second half (an induction head solves it);
  - BERT (post-LN encoder, MLM): pairs "a a b b ...", 15 % of positions [MASK]ed; accuracy on them
    (attending to the neighbour solves it; chance 1/500), with HF's initializer_range 0.02 (as bert-tiny)
    and larger ones, since the scale of the initial weights decides how long BERT's plateau lasts.
Writes bench/results/positional_copy.json. Run: python bench/positional_copy.py [--steps 1200]
"""
import argparse
import json
import time
from pathlib import Path

import torch
from transformers import BertConfig, BertForMaskedLM, GPT2Config, GPT2LMHeadModel

RESULTS = Path(__file__).parent / "results" / "positional_copy.json"
WORDS, BATCH, LENGTH, MASK = 500, 32, 64, 1
SIZE = dict(hidden=128, layers=2, heads=2)


def gpt2_step(net, generator):
    half = torch.randint(2, WORDS, (BATCH, LENGTH // 2), generator=generator)
    ids = torch.cat([half, half], 1)
    loss = torch.nn.functional.cross_entropy(net(input_ids=ids).logits[:, LENGTH // 2 - 1:-1].flatten(0, 1),
                                             ids[:, LENGTH // 2:].flatten())
    return loss, dict(second_half_loss=loss.item())


def bert_step(net, generator):
    words = torch.randint(2, WORDS, (BATCH, LENGTH // 2), generator=generator)
    ids = torch.stack([words, words], -1).reshape(BATCH, LENGTH)
    masked = torch.rand(ids.shape, generator=generator) < 0.15
    out = net(input_ids=ids.masked_fill(masked, MASK), labels=ids.masked_fill(~masked, -100))
    accuracy = (out.logits.argmax(-1)[masked] == ids[masked]).float().mean().item()
    return out.loss, dict(mlm_loss=out.loss.item(), masked_accuracy=accuracy)


def bert(initializer_range: float) -> BertForMaskedLM:
    torch.manual_seed(0)
    return BertForMaskedLM(BertConfig(vocab_size=WORDS, hidden_size=SIZE["hidden"], num_hidden_layers=SIZE["layers"],
                                      num_attention_heads=SIZE["heads"], intermediate_size=4 * SIZE["hidden"],
                                      max_position_embeddings=LENGTH, initializer_range=initializer_range))


def train(net, step, steps: int, every: int) -> list[dict]:
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.01)
    curve = []
    for i in range(1, steps + 1):
        loss, stats = step(net, generator)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        if i % every == 0:
            curve.append(dict(step=i) | {k: round(v, 4) for k, v in stats.items()})
            print(type(net).__name__, curve[-1], flush=True)
    return curve


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--bert-init", type=float, nargs="+", default=[0.02, 0.05, 0.1],
                        help="BERT initializer_range values to compare")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=WORDS, n_positions=LENGTH, n_embd=SIZE["hidden"],
                                      n_layer=SIZE["layers"], n_head=SIZE["heads"], bos_token_id=0, eos_token_id=0))
    start = time.perf_counter()
    every = max(1, args.steps // 12)
    result = dict(size=SIZE, batch=BATCH, length=LENGTH, words=WORDS, steps=args.steps,
                  gpt2_induction=train(gpt2, gpt2_step, args.steps, every),
                  bert_neighbour={str(init): train(bert(init), bert_step, args.steps, every) for init in args.bert_init},
                  wall_s=round(time.perf_counter() - start, 1))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
