"""`python -m explorer.training FAMILY ...`: the same as `python -m explorer train FAMILY ...`.

It imports only what training needs (torch, transformers, tokenizers, safetensors, tqdm), so a GPU
machine without the app's other dependencies can run it.
"""
import argparse
import sys

from ..commands import train
from ..errors import ExplorerError

parser = argparse.ArgumentParser(prog="python -m explorer.training", description=train.HELP)
train.add_arguments(parser)
try:
    sys.exit(train.run(parser.parse_args()))
except ExplorerError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
