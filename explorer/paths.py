"""Where things live: the checkout, the user's own folder ($LT_HOME) and its caches, and the shared datasets."""
import hashlib
import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The user's own folder: trained models, downloaded corpora, caches of features and converted checkpoints.
LT_HOME = Path(os.environ.get("LT_HOME", Path.home() / ".linguistic_travelling"))
CACHE = LT_HOME / "cache"
SWEEPS = LT_HOME / "transfer"  # use-and-gain sweeps started from the app
# The real datasets, read in place beside the checkout (never copied into it): see ../shared/data/README.md.
SHARED_DATA = ROOT.parent / "shared" / "data"


def read_card(directory: Path) -> dict:
    """A checkpoint folder's card.json (how it was made and measured), or {} where it has none."""
    card = directory / "card.json"
    return json.loads(card.read_text()) if card.exists() else {}


def display_name(directory: Path) -> str:
    """A folder's name; where the name alone says nothing (".../minilm/model"), its model card's title (README.md's
    first heading, as Hugging Face cards have: "all-MiniLM-L6-v2"), else the parent's name with it."""
    directory = Path(directory)
    if directory.name not in ("model", "checkpoint", "final"):
        return directory.name
    return _card_title(directory / "README.md") or f"{directory.parent.name}/{directory.name}"


def _card_title(card: Path) -> str | None:
    """The first '# ' heading of a model card, when it reads as a name (one word, under 60 characters)."""
    try:
        lines = card.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    title = next((line[2:].strip() for line in lines if line.startswith("# ")), "")
    return title if title and len(title) < 60 and " " not in title else None


def file_sha256(path: str | Path) -> str:
    """A file's SHA-256, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def safe_name(name: str) -> str:
    """A model or run name as a file name: letters, digits and -_. kept, the rest _, at most its last 80."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[-80:]
