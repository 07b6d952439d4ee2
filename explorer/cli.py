"""`python -m explorer COMMAND ...`: every module in explorer/commands is one command.

A command module has HELP (one line), add_arguments(parser) and run(args) -> int.
"""
import argparse
import importlib
import pkgutil
import sys

from . import commands
from .errors import ExplorerError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="explorer", description="Look inside ELMo, GPT, BERT, GPT-2 and GPT-3.")
    sub = parser.add_subparsers(dest="command", required=True)
    runners = {}
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.add_arguments(sub.add_parser(info.name, help=module.HELP, description=module.HELP))
        runners[info.name] = module.run
    args = parser.parse_args(argv)
    args.invocation = ["python", "-m", "explorer", *(sys.argv[1:] if argv is None else argv)]  # as the user ran it
    try:
        return runners[args.command](args) or 0
    except ExplorerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
