"""The torchrun process group as the training loop sees it: rank, world size, gradient and buffer collectives."""

from __future__ import annotations

import dataclasses
import os

import torch
import torch.distributed as dist


@dataclasses.dataclass
class Dist:
    """The process group seen by this process (world 1 without torchrun)."""

    world: int = 1
    rank: int = 0
    owns_group: bool = False
    device: torch.device = torch.device("cpu")  # where collectives run: CUDA for nccl, CPU for gloo

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def mean_(self, t: torch.Tensor) -> torch.Tensor:
        """Average ``t`` over ranks in place (on any device; nccl needs a CUDA copy)."""
        if self.active:
            buf = t if t.device == self.device else t.to(self.device)
            dist.all_reduce(buf, op=dist.ReduceOp.SUM)
            t.copy_(buf.div_(self.world))
        return t

    def broadcast_state(self, module: torch.nn.Module, *, params: bool) -> None:
        """Copy rank 0's buffers (and parameters) to every rank."""
        if not self.active:
            return
        with torch.no_grad():
            tensors = list(module.buffers()) + (list(module.parameters()) if params else [])
            for t in tensors:
                dist.broadcast(t, src=0)

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


def setup_distributed(device: torch.device) -> tuple[Dist, torch.device]:
    """Join the torchrun process group when RANK/WORLD_SIZE say so (nccl on CUDA, gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(), device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    comm = device if dist.get_backend() == "nccl" else torch.device("cpu")
    return Dist(world=dist.get_world_size(), rank=dist.get_rank(), owns_group=owns, device=comm), device
