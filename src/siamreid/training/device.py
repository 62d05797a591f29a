"""Choosing the device, the autocast context and DataLoader settings, once, for the Trainer."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext

import torch

from siamreid.errors import ConfigError

__all__ = ["autocast", "default_num_workers", "select_device"]


def select_device(
    requested: str | None = None, *, what: str = "RuntimeConfig.device"
) -> torch.device:
    """``requested`` if given and available; else CUDA, then Apple MPS, then CPU.

    Training and every command that runs a model choose their device here, so they agree.

    Args:
        requested: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``... or ``None``.
        what: How the caller names the setting in errors (``"--device"`` on the command line).

    Raises:
        ConfigError: The requested device is not available on this machine.
    """
    if requested is None:
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(requested)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(
            f"{what} is {requested!r}, which is not a device name; use cpu, cuda, "
            "cuda:1, mps, or leave it unset to pick CUDA, MPS or CPU."
        ) from None
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }.get(device.type, False)
    if not available:
        raise ConfigError(
            f"{what} is {requested!r} but this machine has no such device. Leave it unset to "
            "pick CUDA, MPS or CPU automatically."
        )
    return device


def autocast(device: torch.device, precision: str) -> AbstractContextManager[object]:
    """Mixed-precision context for ``precision`` (``fp32`` disables autocast)."""
    if precision == "fp32":
        return nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def default_num_workers(device: torch.device) -> int:
    """DataLoader workers: one per spare core up to 8; none on tiny CPU-only machines.

    On a CPU-only machine the workers compete with the model for the same cores, so with 2 or
    fewer cores loading in the main process is faster.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    if device.type == "cpu" and cores <= 2:
        return 0
    return max(1, min(8, cores - 1))
