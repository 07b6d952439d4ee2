"""One process, or one rank of a torchrun job: training and feature extraction join the same way."""
import os
from dataclasses import dataclass

import torch


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
    this rank, having joined the group if not yet (gloo on CPU, nccl on CUDA), on its own GPU where ``device``
    names no index."""
    dist = torch.distributed
    joined = dist.is_available() and dist.is_initialized()
    world = dist.get_world_size() if joined else int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Runtime(device=device)
    if device.type == "cuda":
        device = torch.device("cuda", local_rank()) if device.index is None else device
        torch.cuda.set_device(device)
    if not joined:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Runtime(dist.get_rank(), world, device)
