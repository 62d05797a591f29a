"""Distributed data parallel under ``torchrun``: process group, model wrapping, batch gathering.

Launch with ``torchrun --nproc_per_node=N -m siamreid train --config ...``; no launcher of our own.
Each process computes the loss of the *global* batch: the other processes' outputs are gathered
(without gradient) around its own rows (with gradient), and the loss is scaled by the world size,
so that DDP's gradient averaging yields exactly the gradient of the single-process loss. Batch-hard
mining thus sees the whole global batch, as it would on one device.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_nn
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from siamreid.models.heads import HeadOutput

__all__ = ["DistContext", "GlobalBatchNorm"]


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in the process group.

    Attributes:
        rank: Global rank (0 is the main process, the only one that writes files).
        world_size: Number of processes.
        local_rank: Rank on this machine (selects the GPU).
        device: This process's device.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def active(self) -> bool:
        """Whether more than one process trains."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Whether this process writes files and shows progress."""
        return self.rank == 0

    @classmethod
    def from_env(cls) -> DistContext:
        """Join the process group that ``torchrun`` describes (nccl on GPUs, else gloo).

        Without ``torchrun`` (no ``WORLD_SIZE`` > 1) this is a single-process context.
        """
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        rank = int(os.environ["RANK"])
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if torch.cuda.is_available():
            torch.cuda.set_device(local_rank)
            device, backend = torch.device("cuda", local_rank), "nccl"
        else:
            device, backend = torch.device("cpu"), "gloo"
        if not dist.is_initialized():
            dist.init_process_group(backend=backend)
        return cls(rank, world, local_rank, device)

    def wrap(self, module: nn.Module, *, find_unused_parameters: bool = False) -> nn.Module:
        """DistributedDataParallel around ``module`` with batch statistics synchronised.

        On GPUs the BatchNorm layers become :class:`torch.nn.SyncBatchNorm`; on CPUs (gloo),
        where SyncBatchNorm does not run, they become :class:`GlobalBatchNorm`. Either way every
        process normalises with the statistics of the global batch, as one process would.
        """
        if not self.active:
            return module
        if self.device.type == "cuda":
            module = nn.SyncBatchNorm.convert_sync_batchnorm(module)  # type: ignore[no-untyped-call]
            return DistributedDataParallel(
                module, device_ids=[self.local_rank], find_unused_parameters=find_unused_parameters
            )
        _convert_batchnorm(module)
        return DistributedDataParallel(module, find_unused_parameters=find_unused_parameters)

    def _gather(self, tensor: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(tensor) for _ in range(self.world_size)]
        dist.all_gather(parts, tensor.detach().contiguous())
        parts[self.rank] = tensor  # this process's rows keep their gradient
        return torch.cat(parts)

    def gather_output(self, out: HeadOutput) -> HeadOutput:
        """The global batch's head output; only this process's rows carry gradient."""
        if not self.active:
            return out
        logits = None if out.logits is None else self._gather(out.logits)
        return HeadOutput(self._gather(out.features), self._gather(out.embeddings), logits)

    def gather_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """The global batch's labels, in rank order."""
        return self._gather(labels) if self.active else labels

    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        """Undo DDP's gradient averaging for a loss every process computes on the global batch."""
        return loss * self.world_size if self.active else loss

    def unscale_replicated_grads(self, params: Iterable[nn.Parameter]) -> None:
        """Undo :meth:`scale_loss` for parameters outside DDP (the loss's own class weights):
        every process computed their whole gradient on the global batch, so none is averaged."""
        if self.active:
            for param in params:
                if param.grad is not None:
                    param.grad.div_(self.world_size)

    def barrier(self) -> None:
        """Wait for every process (no-op when single-process)."""
        if self.active:
            dist.barrier()


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm over the global batch of all processes, for CPU (gloo) process groups.

    Sums and sums of squares are all-reduced with a differentiable all-reduce, so both the
    normalisation and its gradient are those of one process seeing the whole batch.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not dist.is_initialized():
            return F.batch_norm(
                x,
                self.running_mean,
                self.running_var,
                self.weight,
                self.bias,
                not self.track_running_stats or self.training,
                self.momentum or 0.0,
                self.eps,
            )
        # Two passes, as single-device batch norm does: the mean first, then the mean squared
        # deviation from it (the one-pass E[x^2] - E[x]^2 loses digits to cancellation when a
        # channel's mean is large against its spread).
        dims = [0, *range(2, x.dim())]
        channels = x.shape[1]
        count = torch.full((1,), x.numel() / channels, dtype=x.dtype, device=x.device)
        totals = dist_nn.all_reduce(torch.cat([x.sum(dims), count]))  # type: ignore[no-untyped-call]
        n = totals[-1]
        mean = totals[:channels] / n
        shape = [1, channels] + [1] * (x.dim() - 2)
        centred = x - mean.view(shape)
        squares = dist_nn.all_reduce((centred * centred).sum(dims))  # type: ignore[no-untyped-call]
        var = squares / n
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                momentum = self.momentum if self.momentum is not None else 0.1
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_((var * n / (n - 1)).detach(), momentum)  # type: ignore[union-attr]
                self.num_batches_tracked.add_(1)  # type: ignore[union-attr]
        y: torch.Tensor = centred * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def _convert_batchnorm(module: nn.Module) -> None:
    """Replace every BatchNorm child in place by a :class:`GlobalBatchNorm` sharing its tensors."""
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(
            child, GlobalBatchNorm
        ):
            sync = GlobalBatchNorm(
                child.num_features,
                child.eps,
                child.momentum,
                child.affine,
                child.track_running_stats,
            )
            if child.affine:
                sync.weight, sync.bias = child.weight, child.bias
            sync.running_mean = child.running_mean
            sync.running_var = child.running_var
            sync.num_batches_tracked = child.num_batches_tracked
            sync.train(child.training)
            setattr(module, name, sync)
        else:
            _convert_batchnorm(child)
