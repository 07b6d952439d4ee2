"""The registry: shipped tiny models, models the user trained, and well-known real checkpoints."""
import os
import re
from pathlib import Path

from .errors import ExplorerError

ROOT = Path(__file__).resolve().parent.parent
TRAINED = ROOT / "trained"
SHARED_DATA = ROOT.parent / "shared" / "data"  # the team's read-only datasets, beside the repository
# Where the Train page and `explorer train` put new models unless told otherwise.
USER_MODELS = Path(os.environ.get("LT_HOME", Path.home() / ".linguistic_travelling")) / "models"

VOCAB_SIZE = 8192
CAUSAL = ("gpt", "gpt2", "gpt3")  # the families that are causal LMs: prompting, next-token prediction
# The shipped tiny models: one corpus, one token budget; GPT-3-tiny is the large one (scale is its story).
TINY = {
    "elmo-tiny": dict(family="elmo", size=dict(d_model=192, cell=768, n_layers=2)),
    "gpt-tiny": dict(family="gpt", size=dict(d_model=192, n_layers=4, n_heads=4, context=256)),
    "bert-tiny": dict(family="bert", size=dict(d_model=192, n_layers=4, n_heads=4, context=256)),
    "gpt2-tiny": dict(family="gpt2", size=dict(d_model=192, n_layers=4, n_heads=4, context=256)),
    "gpt3-tiny": dict(family="gpt3", size=dict(d_model=320, n_layers=8, n_heads=8, context=256, window=64)),
}
# Real checkpoints this tool knows how to read (downloaded on demand; parameters as published).
KNOWN_REAL = {
    "elmo-original (AllenNLP options.json + weights.hdf5)": ("elmo", "93.6M"),
    "openai-gpt": ("gpt", "117M"),
    "bert-base-uncased": ("bert", "110M"),
    "bert-large-uncased": ("bert", "340M"),
    "gpt2": ("gpt2", "124M"),
    "gpt2-medium": ("gpt2", "355M"),
    "gpt2-large": ("gpt2", "774M"),
    "gpt2-xl": ("gpt2", "1.5B"),
    "EleutherAI/gpt-neo-125m": ("gpt3", "125M"),
    "EleutherAI/gpt-neo-1.3B": ("gpt3", "1.3B"),
    "EleutherAI/gpt-neo-2.7B": ("gpt3", "2.7B"),
}
_HUB_ID = re.compile(r"^[\w.-]+(/[\w.-]+)?$")


def list_models() -> list[str]:
    """Shipped models that are trained, then the user's own trained models."""
    shipped = [n for n in TINY if (TRAINED / n / "config.json").exists()]
    user = sorted(str(p.parent) for p in USER_MODELS.glob("*/config.json")) if USER_MODELS.exists() else []
    return shipped + user


def load(name_or_path: str | os.PathLike):
    """A shipped name ("bert-tiny"), a local checkpoint folder (a str or a path), or a Hugging Face id ("gpt2")
    -> a Model."""
    from .checkpoints import load_directory, load_hf  # torch and transformers only when a model is wanted

    if isinstance(name_or_path, os.PathLike):
        name_or_path = os.fspath(name_or_path)
    if not isinstance(name_or_path, str) or not name_or_path.strip():
        raise ExplorerError("no model given: name a shipped model, a checkpoint folder, or a Hugging Face id")
    name = name_or_path.strip()
    if name in TINY:
        folder = TRAINED / name
        if not (folder / "config.json").exists():
            raise ExplorerError(f"{name} is not in {TRAINED}: train it with `python -m explorer train {TINY[name]['family']}`")
        return load_directory(folder, name)
    path = Path(name).expanduser()
    if _exists(path):
        return load_directory(path)
    if not _HUB_ID.match(name):
        raise ExplorerError(f"{name} does not exist: give an existing checkpoint folder, a shipped name "
                            f"({', '.join(TINY)}) or a Hugging Face id")
    return load_hf(name, name)


def display_name(directory: Path) -> str:
    """A folder's name, with its parent's when the name alone says nothing (".../minilm/model")."""
    return directory.name if directory.name not in ("model", "checkpoint", "final") else \
        f"{directory.parent.name}/{directory.name}"


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long to be a path, for instance
        return False
