"""Training checkpoints that survive a kill at any moment.

Each checkpoint is a fresh folder ``checkpoint/step-NNNNNNNN/`` (weights, optimizer moments and RNG
states as safetensors; step, data position, schedule and settings as JSON). Only when it is complete
does ``checkpoint/latest.json`` point to it, replaced atomically (temp file + os.replace); older
folders are removed after that. A kill therefore leaves either the old or the new checkpoint whole.
Nothing is unpickled: the optimizer's tensors go through safetensors, its settings through JSON.
"""
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..errors import ExplorerError
from .config import POINTER, read_state, step_folder, write_json_atomic

def save_rng(folder: Path, rank: int) -> None:
    """This process's random number generators (dropout masks depend on them)."""
    states = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        states |= {f"cuda{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())}
    save_file(states, str(folder / f"rng-rank{rank}.safetensors"))


def load_rng(folder: Path, rank: int) -> None:
    file = folder / f"rng-rank{rank}.safetensors"
    if not file.exists():
        raise ExplorerError(f"{file} is missing: the checkpoint was written by fewer processes; resume with the "
                            "same number of processes")
    states = load_file(str(file))
    torch.set_rng_state(states["cpu"])
    cuda = [states[k] for k in sorted(states) if k.startswith("cuda")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])


def save_state(folder: Path, net: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Weights, optimizer moments (safetensors) and everything else (state.json) into ``folder``."""
    # copies, because tied weights and cuDNN's flattened LSTM weights share storage, which safetensors refuses
    save_file({k: v.detach().to("cpu", copy=True).contiguous() for k, v in net.state_dict().items()},
              str(folder / "model.safetensors"))
    opt = optimizer.state_dict()
    tensors = {f"{i}.{k}": v.detach().cpu().contiguous() for i, s in opt["state"].items() for k, v in s.items()}
    save_file(tensors, str(folder / "optimizer.safetensors"))
    write_json_atomic(folder / "state.json", state | dict(param_groups=opt["param_groups"]))


def publish(root: Path, step: int) -> None:
    """Point latest.json at the finished step folder, then remove the older ones."""
    write_json_atomic(root / POINTER, dict(step=step, folder=step_folder(root, step).name))
    for old in root.glob("step-*"):
        if old.name != step_folder(root, step).name:
            shutil.rmtree(old, ignore_errors=True)


def load_weights(folder: Path, net: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
    net.load_state_dict(load_file(str(folder / "model.safetensors")))
    state: dict[int, dict] = {}
    for key, value in load_file(str(folder / "optimizer.safetensors")).items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value  # load_state_dict moves each to its parameter's device
    optimizer.load_state_dict(dict(state=state, param_groups=read_state(folder)["param_groups"]))
