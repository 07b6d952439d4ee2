"""`python -m explorer.training FAMILY ...`: the same as `python -m explorer train FAMILY ...`.

It imports only what training needs (torch, transformers, tokenizers, safetensors, tqdm), so a GPU
machine without the app's other dependencies can run it.
"""
import argparse
import sys

from ..errors import ExplorerError
from . import cli

parser = argparse.ArgumentParser(prog="python -m explorer.training", description=cli.HELP)
cli.add_arguments(parser)
try:
    sys.exit(cli.run(parser.parse_args()))
except ExplorerError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
