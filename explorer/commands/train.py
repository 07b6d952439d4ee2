"""`python -m explorer train`: the training CLI lives with training (explorer/training/cli.py)."""
from ..training.cli import HELP, add_arguments, run

__all__ = ["HELP", "add_arguments", "run"]
