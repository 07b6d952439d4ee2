"""Where things live: the checkout, the user's own folder ($LT_HOME) and its caches, and the shared datasets."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The user's own folder: trained models, downloaded corpora, caches of features and converted checkpoints.
LT_HOME = Path(os.environ.get("LT_HOME", Path.home() / ".linguistic_travelling"))
CACHE = LT_HOME / "cache"
SWEEPS = LT_HOME / "transfer"  # use-and-gain sweeps started from the app
# The real datasets, read in place beside the checkout (never copied into it): see ../shared/data/README.md.
SHARED_DATA = ROOT.parent / "shared" / "data"


def display_name(directory: Path) -> str:
    """A folder's name, with its parent's when the name alone says nothing (".../minilm/model")."""
    return directory.name if directory.name not in ("model", "checkpoint", "final") else \
        f"{directory.parent.name}/{directory.name}"
