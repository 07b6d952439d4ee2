"""GGUF files (llama.cpp's format) -> cached HF safetensors folders, which the usual loaders read.

Dequantizing a GGUF takes tens of seconds, so it happens once per file: the folder is keyed by the file's sha256.
"""
import json
import shutil
import tempfile
from pathlib import Path

from .errors import ExplorerError
from .paths import CACHE as _CACHE
from .paths import file_sha256

CACHE = _CACHE / "gguf"
SOURCE = "gguf.json"  # in each converted folder: which file it came from


def convert(gguf_path: str | Path, cache: Path | None = None) -> Path:
    """The HF folder converted from ``gguf_path``: from the cache, or converted now and cached."""
    path = Path(gguf_path).expanduser()
    if not path.is_file():
        raise ExplorerError(f"{path} does not exist: give the path of a .gguf file")
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ExplorerError(f"{path} is not a GGUF file (it does not start with 'GGUF')")
    digest = file_sha256(path)
    folder = (cache or CACHE) / digest[:16]
    if _source(folder).get("sha256") == digest:
        return folder
    model, tokenizer = _read(path)
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Written beside its final place, then renamed: a kill leaves at most a stray temp folder, never a half model.
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / SOURCE).write_text(json.dumps(dict(file=str(path), sha256=digest, size=path.stat().st_size)))
        shutil.rmtree(folder, ignore_errors=True)  # a folder whose record did not match
        try:
            tmp.rename(folder)
        except OSError:  # another process finished the same conversion first
            if _source(folder).get("sha256") != digest:
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _source(folder: Path) -> dict:
    try:
        return json.loads((folder / SOURCE).read_text())
    except (OSError, ValueError):
        return {}


def _read(path: Path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    # dequantize=True gives a plain float32 model that save_pretrained accepts
    kwargs = dict(gguf_file=path.name, quantization_config=GgufConfig(dequantize=True))
    try:
        model = AutoModelForCausalLM.from_pretrained(path.parent, dtype=torch.float32, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    except ImportError as e:
        raise ExplorerError(f"reading {path} needs the gguf package ({e}): pip install gguf accelerate") from None
    except Exception as e:  # a damaged file fails anywhere in the GGUF parser, with any exception type
        first_line = str(e).partition("\n")[0]
        raise ExplorerError(f"cannot convert {path} ({type(e).__name__}: {first_line}): "
                            "it is truncated or corrupted, or of an architecture transformers cannot read") from None
    return model, tokenizer
