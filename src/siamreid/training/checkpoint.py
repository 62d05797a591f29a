"""Atomic training checkpoints: weights in safetensors, the rest of the state alongside.

Layout under ``<out_dir>/checkpoints/``::

    epoch_0003/model.safetensors   model weights
    epoch_0003/state.pt            optimizer, scheduler, progress (tensors and plain data only)
    epoch_0003/meta.json           backbone, embedding size, classes, epoch, step
    latest.json                    which folder is the last complete checkpoint
    best_epoch_0002/               with keep_best: the weights of the best validated epoch
    best.json                      which folder that is, its epoch and validation mAP

A checkpoint folder is written under a temporary name and renamed when complete; ``latest.json``
(and ``best.json``) is replaced atomically afterwards. A process killed at any moment leaves the
previous checkpoint intact and ``latest.json`` pointing at it. The best copy holds the model
weights and ``meta.json`` (its ``state.pt`` is empty): it is a model to keep, not a point to
resume from.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from siamreid._io import (
    atomic_write_json,
    check_version,
    file_mode,
    fsync_dir,
    remove_stale_temps,
    temp_dir,
)
from siamreid._paths import resolve_inside
from siamreid.errors import CheckpointError

__all__ = [
    "Checkpoint",
    "find_best",
    "find_latest",
    "load_checkpoint",
    "save_best",
    "save_checkpoint",
]

FORMAT_VERSION = 1
_LATEST = "latest.json"
_BEST = "best.json"
_BEST_PREFIX = "best_"


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint read back from disk.

    Attributes:
        path: Its folder.
        model_state: Model weights.
        train_state: Optimizer/scheduler state and progress counters.
        meta: Architecture and progress summary (``backbone``, ``embedding_dim``, ``epoch``...).
    """

    path: Path
    model_state: dict[str, torch.Tensor]
    train_state: dict[str, Any]
    meta: dict[str, Any]

    @property
    def epoch(self) -> int:
        """Completed epochs."""
        return int(self.meta["epoch"])

    @property
    def step(self) -> int:
        """Completed steps of the next epoch (non-zero only for an interrupted epoch)."""
        return int(self.meta.get("step", 0))


def save_checkpoint(
    root: str | os.PathLike[str],
    *,
    model_state: dict[str, torch.Tensor],
    train_state: dict[str, Any],
    meta: dict[str, Any],
    keep: int = 2,
) -> Path:
    """Write a checkpoint atomically and make it the latest; prune older ones beyond ``keep``.

    Args:
        root: The ``checkpoints`` folder.
        model_state: Model weights (contiguous CPU copies are made here).
        train_state: Picklable-free state: tensors, numbers, strings, lists and dicts.
        meta: Must hold ``epoch`` (completed epochs) and may hold ``step``.
        keep: Checkpoint folders to keep.

    Returns:
        The checkpoint folder.
    """
    root = Path(root)
    name = f"epoch_{int(meta['epoch']):04d}" + (f"_step_{meta['step']}" if meta.get("step") else "")
    final = _write_folder(root, name, model_state, train_state, meta)
    atomic_write_json(root / _LATEST, {"path": name, "epoch": meta["epoch"]})
    _prune(root, keep, final)
    return final


def _write_folder(
    root: Path,
    name: str,
    model_state: dict[str, torch.Tensor],
    train_state: dict[str, Any],
    meta: dict[str, Any],
) -> Path:
    """Write ``root/name`` under a temporary name and rename it when complete."""
    root.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(root)  # what a killed save left (a checkpoints folder has one writer)
    final = root / name
    tmp = temp_dir(final)
    try:
        weights = {k: v.detach().cpu().contiguous() for k, v in model_state.items()}
        save_file(weights, str(tmp / "model.safetensors"))
        torch.save(train_state, tmp / "state.pt")
        full_meta = {"format_version": FORMAT_VERSION, **meta}
        (tmp / "meta.json").write_text(json.dumps(full_meta, indent=2), encoding="utf-8")
        for file in tmp.iterdir():  # safetensors and torch.save ignore the umask (0600)
            os.chmod(file, file_mode())
            with file.open("rb") as fh:
                os.fsync(fh.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def save_best(
    root: str | os.PathLike[str], *, model_state: dict[str, torch.Tensor], meta: dict[str, Any]
) -> Path:
    """Keep ``model_state`` as the best checkpoint: ``best_epoch_NNNN/``, named by ``best.json``.

    Written like :func:`save_checkpoint` (complete folder first, then the pointer); the previous
    best folder is removed only after ``best.json`` names the new one.

    Args:
        root: The ``checkpoints`` folder.
        model_state: Model weights.
        meta: Must hold ``epoch`` and ``mAP`` (the validation mAP it was chosen by).

    Returns:
        The best checkpoint's folder.
    """
    root = Path(root)
    name = f"{_BEST_PREFIX}epoch_{int(meta['epoch']):04d}"
    final = _write_folder(root, name, model_state, {}, meta)
    atomic_write_json(root / _BEST, {"path": name, "epoch": meta["epoch"], "mAP": meta["mAP"]})
    for old in root.iterdir():
        if old.is_dir() and old.name.startswith(_BEST_PREFIX) and old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def _prune(root: Path, keep: int, newest: Path) -> None:
    folders = sorted(
        (p for p in root.iterdir() if p.is_dir() and p.name.startswith("epoch_")),
        key=lambda p: p.stat().st_mtime,
    )
    for old in folders[:-keep]:
        if old != newest:
            shutil.rmtree(old, ignore_errors=True)


def find_latest(root: str | os.PathLike[str]) -> Path | None:
    """The folder ``latest.json`` names, or ``None`` when no checkpoint was completed.

    Raises:
        CheckpointError: ``latest.json`` is corrupt, or names a folder outside ``root`` (an
            absolute path, ``..``, or a link leading out): a resume reads only its own run.
    """
    return _follow(Path(root) / _LATEST)


def find_best(root: str | os.PathLike[str]) -> Path | None:
    """The folder ``best.json`` names (see :func:`save_best`), or ``None`` when there is none."""
    return _follow(Path(root) / _BEST)


def _follow(pointer: Path) -> Path | None:
    if not pointer.is_file():
        return None
    try:
        name = json.loads(pointer.read_text(encoding="utf-8"))["path"]
        if not isinstance(name, str):
            raise TypeError(f"field 'path' is {name!r}, not a folder name")
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise CheckpointError(
            f"{str(pointer)!r} is corrupt ({err}). Delete it to start over, or point it at an "
            "existing epoch_* folder."
        ) from err
    return resolve_inside(
        pointer.parent,
        name,
        where=f"{str(pointer)!r}, field 'path'",
        fix=f"It must name one of the checkpoint folders beside it; point it at one, or delete "
        f"{pointer.name} to start over.",
        error=CheckpointError,
        links_may_leave=False,
    )


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint folder without unpickling arbitrary objects.

    Raises:
        CheckpointError: A file is missing or corrupt, or the format is newer than this version.
    """
    path = Path(path)
    files = {name: path / name for name in ("model.safetensors", "state.pt", "meta.json")}
    for name, file in files.items():
        if not file.is_file():
            raise CheckpointError(
                f"Checkpoint {str(path)!r} has no {name}. It is incomplete; resume from another "
                "checkpoint or start a new run."
            )
    try:
        meta = json.loads(files["meta.json"].read_text(encoding="utf-8"))
        model_state = load_file(str(files["model.safetensors"]))
        train_state = torch.load(files["state.pt"], map_location="cpu", weights_only=True)
    except (
        json.JSONDecodeError,
        SafetensorError,
        pickle.UnpicklingError,
        RuntimeError,
        OSError,
        EOFError,
    ) as err:
        raise CheckpointError(f"Checkpoint {str(path)!r} is corrupt: {err}.") from err
    check_version(
        meta,
        path / "meta.json",
        max_version=FORMAT_VERSION,
        error=CheckpointError,
        required=False,
    )
    return Checkpoint(path, model_state, train_state, meta)


def check_compatible(meta: dict[str, Any], expected: dict[str, Any], path: Path) -> None:
    """Raise if a checkpoint was made for another architecture than the model at hand."""
    for key in ("backbone", "embedding_dim", "num_classes"):
        if key in meta and key in expected and meta[key] != expected[key]:
            raise CheckpointError(
                f"Checkpoint {str(path)!r} was saved from a model with {key}={meta[key]!r}, but "
                f"the model being loaded has {key}={expected[key]!r}. Build the model with the "
                "checkpoint's settings, or start a new run in another out_dir."
            )
