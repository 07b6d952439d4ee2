"""The `train` command's flags and runner, shared by `python -m explorer train` and `python -m explorer.training`.

Free of torch at import (the runner imports the loop), so `python -m explorer --help` stays fast.
"""
import argparse

from ..families import REGISTRY

HELP = "train a model of any family on a text corpus with its own objective (biLM, causal LM, MLM + NSP)"


def add_arguments(parser):
    """The flags of a run: those named after a TrainConfig field set it (TrainConfig.argv writes them back)."""
    parser.add_argument("family", choices=list(REGISTRY))
    parser.add_argument("--corpus", required=True,
                        help="a folder built by `corpus build`, a text file, or a folder of .txt files (one sentence a line)")
    parser.add_argument("--tokens", required=True, type=_count, help="token budget, e.g. 2000000 or 2M")
    parser.add_argument("--out", required=True, help="folder for the model, its card.json, metrics.jsonl, checkpoints")
    parser.add_argument("--resume", action="store_true", help="continue the run whose checkpoint is in --out")
    parser.add_argument("--force", action="store_true", help="start over even if --out holds a run or a model")
    parser.add_argument("--name", default="", help="model name (default FAMILY-tiny); a shipped name sets the size")
    parser.add_argument("--size", default="", type=parse_size,
                        help="architecture overrides, e.g. d_model=128,n_layers=2 (default: the shipped size)")
    parser.add_argument("--batch-size", type=int, default=32, help="sequences per step, over all processes")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warmup", type=float, default=0.05, help="share of the steps spent warming up the learning rate")
    parser.add_argument("--icl-share", type=float, default=0.5,
                        help="share of causal-LM sequences that are in-context key value documents (Chan et al. 2022; "
                             "0.5 as the shipped models)")
    parser.add_argument("--short-seq", type=int, default=0,
                        help="BERT: pairs of this many tokens for the first 90%% of the steps, then the full context, "
                             "as BERT did (128 of 512); the shipped bert-tiny uses 32 of 256")
    parser.add_argument("--dropout", type=float, default=None, help="override every dropout rate (e.g. 0)")
    parser.add_argument("--checkpoint-every", type=int, default=0, help="steps between checkpoints (default: a tenth)")
    parser.add_argument("--eval-every", type=int, default=0, help="steps between validations (default: a twentieth)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _count(text):
    units = {"k": 10**3, "m": 10**6, "g": 10**9}
    text = text.strip().lower().replace("_", "").replace(",", "")
    try:
        return int(float(text[:-1]) * units[text[-1]]) if text and text[-1] in units else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count (e.g. 500000 or 2M)") from None


def parse_size(text: str) -> dict:
    """'d_model=128,n_layers=2' as {'d_model': 128, 'n_layers': 2}."""
    size = {}
    for part in filter(None, text.split(",")):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise argparse.ArgumentTypeError(f"{part!r} is not key=value (e.g. d_model=128,n_layers=2)")
        size[key.strip()] = _value(value.strip())
    return size


def _value(text):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def run(args):
    from .config import TrainConfig
    from .loop import train

    out = train(TrainConfig.from_args(args), resume=args.resume, force=args.force, device=args.device,
                progress=not args.no_progress)
    print(f"saved {out}")
    return 0
