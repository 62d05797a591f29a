"""Reading a peer's checkpoint file: tensors only, never code.

``torch.load(..., weights_only=True)`` unpickles nothing but tensors and plain containers, so a
file that would run code when unpickled is refused before anything in it runs.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from siamreid.errors import CheckpointError

__all__ = ["StateDict", "read_state_dict"]

StateDict = dict[str, torch.Tensor]

# torch names the global it refused to import: "Unsupported global: GLOBAL builtins.exec ..."
_GLOBAL = re.compile(r"Unsupported global: GLOBAL (\S+)")
# Where each peer keeps the state dict inside a training checkpoint (a bare one is also read).
_CONTAINER_KEYS = ("state_dict", "model", "net")
_PREFIX = "module."  # nn.DataParallel / DistributedDataParallel


def read_state_dict(path: Path) -> StateDict:
    """The tensors of a ``.pth`` / ``.pt`` / ``.pth.tar`` checkpoint, container and prefixes off.

    Reads a bare state dict, ``{"state_dict": ...}`` (torchreid, BoxMOT) or ``{"model": ...}``
    (fast-reid), and strips a ``module.`` prefix (``DataParallel``) from every key.

    Raises:
        CheckpointError: The file is unreadable, would run code or hold other objects when
            unpickled, or holds no tensors.
    """
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = _GLOBAL.search(str(err))
        if found is None:  # not a pickle of ours to judge: garbage or truncated
            raise _unreadable(path, "not a pickle torch can read") from err
        raise CheckpointError(
            f"{str(path)!r} was refused: it holds objects other than tensors, which only "
            f"running code could build ({found[1]}). siamreid never runs code from a checkpoint; "
            "if you trust the file, re-save its state dict alone with torch.save(state_dict, "
            "'weights.pth') and pass that."
        ) from err
    except (OSError, RuntimeError, EOFError, ValueError) as err:
        raise _unreadable(path, str(err)) from err
    return _strip_prefixes(_unwrap(loaded, path))


def _unreadable(path: Path, reason: str) -> CheckpointError:
    return CheckpointError(
        f"{str(path)!r} is not a readable PyTorch checkpoint ({reason}). Pass a .pth/.pt file "
        "written by torch.save, or a folder written by save_pretrained."
    )


def _unwrap(loaded: object, path: Path) -> StateDict:
    if isinstance(loaded, Mapping):
        for key in _CONTAINER_KEYS:
            inner = loaded.get(key)
            if isinstance(inner, Mapping) and any(
                isinstance(v, torch.Tensor) for v in inner.values()
            ):
                loaded = inner
                break
        tensors = {str(k): v for k, v in loaded.items() if isinstance(v, torch.Tensor)}
        if tensors:
            return tensors
    kind = type(loaded).__name__
    raise CheckpointError(
        f"{str(path)!r} holds no state dict (found a {kind} without tensors): expected a dict of "
        f"tensors, or one under {', '.join(repr(k) for k in _CONTAINER_KEYS)}."
    )


def _strip_prefixes(state: StateDict) -> StateDict:
    if all(k.startswith(_PREFIX) for k in state):
        return {k[len(_PREFIX) :]: v for k, v in state.items()}
    return state
