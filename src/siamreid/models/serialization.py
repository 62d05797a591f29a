"""The saved-model format: safetensors weights and a JSON config, never a pickle.

A saved model is a folder with two files::

    model.safetensors   every tensor of the state dict (BatchNorm statistics included)
    config.json         format, format_version, siamreid_version, backbone, embedding_dim,
                        num_classes, input_size, normalize, drop_path_rate, pooling,
                        last_stride, mean, std, interpolation, metric

:func:`locate` (and so :func:`siamreid.models.load_pretrained`) also reads what
``siamreid train`` writes (a run folder, its ``train/checkpoints`` folder or one ``epoch_XXXX``
checkpoint, whose ``meta.json`` holds the ``model_config``) and ``hf-hub:org/name``
repositories holding the two files above.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from siamreid._io import atomic_write, atomic_write_json, record, remove_stale_temps
from siamreid._version import __version__
from siamreid.errors import CheckpointError
from siamreid.models._locate import (
    CONFIG_FILE,
    FORMAT_NAME,
    FORMAT_VERSION,
    WEIGHTS_FILE,
    Located,
    hub_module,
    locate,
)
from siamreid.models.backbones import BackboneDataConfig
from siamreid.models.config import ModelConfig


class SavableModel(Protocol):
    """What saving and loading need of a model (a :class:`~siamreid.SiameseEmbedder`): its
    config, its data config and its tensors. The format imports no model class."""

    @property
    def config(self) -> ModelConfig: ...

    @property
    def data_config(self) -> BackboneDataConfig: ...

    def state_dict(self) -> Mapping[str, Any]: ...

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> Any: ...


__all__ = [
    "CONFIG_FILE",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "WEIGHTS_FILE",
    "Located",
    "load_weights",
    "locate",
    "push_to_hub",
    "save_pretrained",
    "weights_digest",
]

_ARCH_FIELDS = ("backbone", "embedding_dim", "num_classes", "input_size", "normalize", "pooling")


def save_pretrained(model: SavableModel, directory: str | os.PathLike[str]) -> Path:
    """Write ``model.safetensors`` and ``config.json`` into ``directory`` (created if needed).

    Each file is written under a temporary name and renamed; ``config.json`` comes last and
    records the sha256 of the weights file, so a folder with a config always holds its weights
    and a weights file whose bytes changed is detected on load. The same weights give the same
    bytes: two runs of the same seed save identical files.

    Args:
        model: The embedder to save.
        directory: Target folder; existing files of the same names are replaced, others kept.

    Returns:
        The folder.

    Raises:
        CheckpointError: ``directory`` is a file.

    Example:
        >>> save_pretrained(model, "runs/exp/model")  # doctest: +SKIP
        >>> same = load_pretrained("runs/exp/model")  # doctest: +SKIP
    """
    folder = Path(directory)
    if folder.exists() and not folder.is_dir():
        raise CheckpointError(f"Cannot save a model into {str(folder)!r}: it is a file.")
    blob = weights_bytes(model)
    folder.mkdir(parents=True, exist_ok=True)
    # A model folder is meant to be copied and uploaded whole, so no lock file lives in it:
    # a concurrent save is caught on load instead (the weights' checksum would not match).
    for name in (WEIGHTS_FILE, CONFIG_FILE):
        remove_stale_temps(folder, prefix=f".{name}")
    atomic_write(folder / WEIGHTS_FILE, lambda tmp: tmp.write_bytes(blob))
    rec = config_record(model)
    rec["weights_sha256"] = hashlib.sha256(blob).hexdigest()
    atomic_write_json(folder / CONFIG_FILE, rec)
    return folder


def weights_bytes(model: torch.nn.Module | SavableModel) -> bytes:
    """The ``model.safetensors`` bytes of ``model``'s state dict (stable for the same weights)."""
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    return save(tensors, metadata={"format": "pt"})


def weights_digest(model: torch.nn.Module | SavableModel) -> str:
    """The sha256 of the weights file :func:`save_pretrained` writes for ``model``.

    Indexes record it, so that a gallery is never searched with another model's weights.
    """
    return hashlib.sha256(weights_bytes(model)).hexdigest()


def config_record(model: SavableModel) -> dict[str, Any]:
    """The ``config.json`` content for ``model`` (without the weights checksum)."""
    cfg, data = model.config, model.data_config
    return record(
        FORMAT_NAME,
        FORMAT_VERSION,
        {
            "siamreid_version": __version__,
            "backbone": cfg.backbone,
            "embedding_dim": cfg.embedding_dim,
            "num_classes": cfg.num_classes,
            "input_size": list(cfg.input_size),
            "normalize": cfg.normalize,
            "drop_path_rate": cfg.drop_path_rate,
            "pooling": cfg.pooling,
            "last_stride": cfg.last_stride,
            "mean": list(data.mean),
            "std": list(data.std),
            "interpolation": data.interpolation,
            "metric": cfg.metric,
        },
    )


def push_to_hub(
    model: SavableModel,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    commit_message: str = "Upload siamreid embedder",
) -> str:
    """Upload ``model`` (the :func:`save_pretrained` files) to a Hugging Face model repository.

    Args:
        model: The embedder.
        repo_id: ``"org/name"``; created when missing.
        private: Create the repository as private.
        token: Hugging Face token (default: the logged-in user's).
        commit_message: The commit message.

    Returns:
        The URL of the commit.

    Example:
        >>> push_to_hub(model, "me/market1501-effb0")  # doctest: +SKIP
        >>> load_pretrained("hf-hub:me/market1501-effb0")  # doctest: +SKIP
    """
    hub = hub_module()
    api = hub.HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="siamreid-push-") as tmp:
        save_pretrained(model, tmp)
        info = api.upload_folder(repo_id=repo_id, folder_path=tmp, commit_message=commit_message)
    return str(getattr(info, "commit_url", info))


# ---------------------------------------------------------------------------------- loading
def load_weights(model: SavableModel, located: Located) -> None:
    """Load the weights ``located`` names into ``model``, checking checksum, names and shapes.

    Loading takes an instance, as timm's ``load_checkpoint(model, path)`` does:
    :meth:`SiameseEmbedder.from_pretrained` builds the model from the located config first.

    Raises:
        CheckpointError: The file is missing, changed since it was saved, not safetensors, or
            does not fit the model (the likely field is named).
    """
    if located.state is not None:  # a peer's checkpoint, read and mapped by the importers
        _check_state(model.state_dict(), located.state, located)
        model.load_state_dict(located.state, strict=True)
        return
    path = located.weights
    if not path.is_file():
        raise CheckpointError(
            f"{str(path)!r} is missing: {located.config_path.name} has no weights beside it. "
            "Save the model again with save_pretrained."
        )
    _check_sha256(located)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(
            f"{str(path)!r} is not a safetensors weights file ({err}). Point at a folder written "
            "by save_pretrained, or save the model again."
        ) from err
    _check_state(model.state_dict(), state, located)
    model.load_state_dict(state, strict=True)


def _check_sha256(located: Located) -> None:
    if located.weights_sha256 is None:
        return  # written before checksums were recorded, or a training checkpoint
    digest = hashlib.sha256()
    with located.weights.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    if digest.hexdigest() != located.weights_sha256:
        raise CheckpointError(
            f"{str(located.weights)!r} changed since it was saved: its sha256 is "
            f"{digest.hexdigest()[:12]}, {str(located.config_path)!r} records "
            f"{located.weights_sha256[:12]}. Restore the file, or save the model again with "
            "save_pretrained."
        )


def _check_state(
    expected: Mapping[str, torch.Tensor], found: Mapping[str, torch.Tensor], located: Located
) -> None:
    problems = [f"missing tensor {k!r}" for k in expected if k not in found]
    problems += [f"unexpected tensor {k!r}" for k in found if k not in expected]
    problems += [
        f"tensor {k!r} has shape {tuple(v.shape)} in the file, the config builds "
        f"{tuple(expected[k].shape)}"
        for k, v in found.items()
        if k in expected and v.shape != expected[k].shape
    ]
    if not problems:
        return
    cfg = located.config
    arch = ", ".join(f"{name}={getattr(cfg, name)!r}" for name in _ARCH_FIELDS)
    shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if problems[3:] else "")
    raise CheckpointError(
        f"{str(located.weights)!r} does not fit {str(located.config_path)!r} ({arch}): "
        f"{shown}. Field {_suspect_field(problems)!r} is the likely mismatch; save the weights "
        "and config together with save_pretrained."
    )


def _suspect_field(problems: list[str]) -> str:
    text = " ".join(problems)
    if ".global_pool.p'" in text:  # GeM's exponent: saved with pooling='gem' only
        return "pooling"
    if "'backbone." in text:
        return "backbone"
    if "'head.proj." in text or "'head.bn." in text:
        return "embedding_dim"
    if "'head.classifier." in text:
        return "num_classes"
    return "backbone"
