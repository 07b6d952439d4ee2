"""Where a process runs: its device, and its rank in a torchrun job (training and feature extraction join the same
way)."""
import os
from dataclasses import dataclass

import torch

from .errors import ExplorerError

DEVICES = ("cpu", "cuda", "mps")


def pick_device(name: str | None = None) -> torch.device:
    """``name`` ("cpu", "cuda", "cuda:1", "mps") as a torch device, checked to exist here; None or "auto": the best
    available. CUDA without an index means the process's own GPU, which join_job gives it."""
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if name is None or name == "auto":
        return torch.device(next(d for d in ("cuda", "mps", "cpu") if available[d]))
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in DEVICES:
        raise ExplorerError(f"unknown device {name!r}: use one of auto, {', '.join(DEVICES)}, or cuda:N for GPU N")
    gpus = torch.cuda.device_count() if available["cuda"] else 0
    if not available[device.type] or device.type == "cuda" and (device.index or 0) >= gpus:
        here = ", ".join(d for d in DEVICES if available[d]) + (f" (cuda:0 to cuda:{gpus - 1})" if gpus else "")
        raise ExplorerError(f"device {name!r} is not available on this machine (torch {torch.__version__} sees: "
                            f"{here}): choose one of those, or auto for the best available")
    return device


@dataclass
class Runtime:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self):
        if self.world > 1:
            torch.distributed.barrier()


def local_rank() -> int:
    """This process's index on its machine (torchrun's LOCAL_RANK; 0 alone): which GPU is its own."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def join_job(device: torch.device) -> Runtime:
    """Alone, rank 0 of 1 on ``device``. Under torchrun (WORLD_SIZE > 1) or in a process group already started,
    this rank, having joined the group if not yet (gloo on CPU, nccl on CUDA). Either way on its own GPU where
    ``device`` names no index (LOCAL_RANK's; GPU 0 alone)."""
    dist = torch.distributed
    joined = dist.is_available() and dist.is_initialized()
    world = dist.get_world_size() if joined else int(os.environ.get("WORLD_SIZE", "1"))
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank())
    if world == 1:
        return Runtime(device=device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not joined:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Runtime(dist.get_rank(), world, device)
