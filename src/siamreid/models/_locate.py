"""Where a saved embedder lives and what its records say: the reading side of the formats.

:func:`locate` turns what a user points at (a ``save_pretrained`` folder, a training run, a
checkpoint folder, ``hf-hub:org/name``, a peer's checkpoint file or ``zoo:NAME``) into the
weights and a validated architecture record; every missing or mistyped field raises
:class:`CheckpointError` naming file and field.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from siamreid._io import check_version, read_record
from siamreid._paths import resolve_inside
from siamreid.errors import CheckpointError, ConfigError
from siamreid.models.backbones import BackboneDataConfig, hub_reachable
from siamreid.models.config import ModelConfig
from siamreid.models.importers import read_peer_checkpoint
from siamreid.models.zoo import zoo_entry, zoo_file

if TYPE_CHECKING:
    import torch

__all__ = [
    "CONFIG_FILE",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "WEIGHTS_FILE",
    "Located",
    "hub_module",
    "locate",
]

FORMAT_NAME = "siamreid-embedder"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
HUB_PREFIX = "hf-hub:"
ZOO_PREFIX = "zoo:"
# What siamreid.training.checkpoint writes; read here without importing training (models
# know nothing of training).
_CHECKPOINT_META = "meta.json"
_CHECKPOINT_LATEST = "latest.json"
_CHECKPOINT_FORMAT_VERSION = 1


@dataclass(frozen=True)
class Located:
    """The weights file and the architecture record found for a source."""

    weights: Path
    config_path: Path
    config: ModelConfig
    data: BackboneDataConfig | None  # None: take timm's statistics for the backbone
    weights_sha256: str | None = None  # recorded by save_pretrained; checked on load
    state: dict[str, torch.Tensor] | None = None  # a peer's weights, already mapped onto ours


def locate(source: str | os.PathLike[str], *, arch: str | None = None) -> Located:
    """The weights and validated architecture record of a saved model, training output, hub
    repository, peer checkpoint or zoo model (see :meth:`SiameseEmbedder.from_pretrained`).

    ``arch`` names a peer checkpoint's architecture instead of reading it from the keys.
    """
    text = os.fspath(source)
    if text.startswith(HUB_PREFIX):
        return _read_saved(_download(text[len(HUB_PREFIX) :]))
    if text.startswith(ZOO_PREFIX):
        entry = zoo_entry(text[len(ZOO_PREFIX) :])
        return _read_peer(zoo_file(entry), arch or entry.arch, entry.input_size)
    path = Path(text)
    if not path.exists():
        raise CheckpointError(
            f"No saved model at {text!r}: the path does not exist. Pass a folder written by "
            "save_pretrained, a training run folder, a torchreid / BoxMOT / fast-reid "
            "checkpoint file, 'zoo:NAME' (siamreid zoo list) or 'hf-hub:org/name'."
        )
    if path.is_file():
        if path.name not in (CONFIG_FILE, WEIGHTS_FILE, _CHECKPOINT_META, _CHECKPOINT_LATEST):
            return _read_peer(path, arch)
        path = path.parent
    if _is_saved(path):
        return _read_saved(path)
    if (path / _CHECKPOINT_META).is_file() and (path / WEIGHTS_FILE).is_file():
        return _read_checkpoint(path)
    if _is_saved(path / "model"):  # a run folder: its final model
        return _read_saved(path / "model")
    for folder in (path, path / "checkpoints", path / "train" / "checkpoints"):
        if (folder / _CHECKPOINT_LATEST).is_file():
            return _read_checkpoint(_latest(folder / _CHECKPOINT_LATEST))
    if (path / CONFIG_FILE).is_file():
        return _read_saved(path)  # not ours: raises, naming the 'format' field
    raise CheckpointError(
        f"{text!r} holds no saved model: expected {CONFIG_FILE} + {WEIGHTS_FILE} "
        "(save_pretrained), a training checkpoint (meta.json + model.safetensors), or a run "
        "folder with model/ or train/checkpoints/latest.json."
    )


def _read_peer(path: Path, arch: str | None, size: tuple[int, int] = (256, 128)) -> Located:
    peer = read_peer_checkpoint(path, arch=arch, input_size=size)
    return Located(path, path, peer.config, peer.data, None, peer.state)


def _is_saved(folder: Path) -> bool:
    """Whether ``folder`` has a ``config.json`` written by :func:`save_pretrained`."""
    try:
        record = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("format") == FORMAT_NAME


def _latest(pointer: Path) -> Path:
    try:
        name = json.loads(pointer.read_text(encoding="utf-8"))["path"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(
            f"{str(pointer)!r} is corrupt ({err}); point at an epoch_* folder instead."
        ) from err
    folder = resolve_inside(  # the rule training/checkpoint.py applies too
        pointer.parent,
        str(name),
        where=f"{str(pointer)!r}, field 'path'",
        fix="It must name one of the epoch_* folders beside it; pass that folder instead.",
        error=CheckpointError,
        links_may_leave=False,
    )
    if not folder.is_dir():
        raise CheckpointError(
            f"{str(pointer)!r} names {str(name)!r}, which does not exist; point at an existing "
            "epoch_* folder instead."
        )
    return folder


def _download(repo_id: str) -> Path:
    hub = hub_module()
    from huggingface_hub.errors import EntryNotFoundError

    cached = [hub.try_to_load_from_cache(repo_id, f) for f in (CONFIG_FILE, WEIGHTS_FILE)]
    if not all(isinstance(c, str) for c in cached) and not hub_reachable():
        raise CheckpointError(
            f"Cannot download 'hf-hub:{repo_id}': the Hugging Face hub is not reachable and the "
            "model is not in the local cache. Download the folder on a connected machine and "
            "pass its path instead (load_pretrained(PATH), --checkpoint PATH)."
        )

    paths = []
    for filename in (CONFIG_FILE, WEIGHTS_FILE):
        try:
            paths.append(Path(str(hub.hf_hub_download(repo_id, filename))))
        except (OSError, ValueError, EntryNotFoundError) as err:
            raise CheckpointError(
                f"Cannot download {filename} of 'hf-hub:{repo_id}': {err}. Check the repository "
                "name and the network, or download the folder and pass its path."
            ) from err
    if paths[0].parent != paths[1].parent:
        raise CheckpointError(f"'hf-hub:{repo_id}' files landed in different folders: {paths}.")
    return paths[0].parent


def hub_module() -> Any:
    try:
        import huggingface_hub
    except ImportError as err:
        raise CheckpointError(
            "The Hugging Face hub needs huggingface_hub: pip install huggingface_hub."
        ) from err
    return huggingface_hub


# ----------------------------------------------------------------------------------- reading
def _read_json(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{str(path)!r} is not readable JSON ({err}).") from err
    if not isinstance(record, dict):
        raise CheckpointError(f"{str(path)!r} must hold a JSON object, got {type(record)}.")
    return record


def _read_saved(folder: Path) -> Located:
    path = folder / CONFIG_FILE
    record = read_record(
        path,
        format_name=FORMAT_NAME,
        max_version=FORMAT_VERSION,
        error=CheckpointError,
        hint="It was not written by siamreid's save_pretrained.",
    )
    fields = _Fields(record, path)
    config = _model_config(record, path)
    data = BackboneDataConfig(
        mean=fields.triple("mean"),
        std=fields.triple("std"),
        interpolation=fields.text("interpolation"),
    )
    sha = record.get("weights_sha256")
    if sha is not None and not isinstance(sha, str):
        raise CheckpointError(f"{str(path)!r}: field 'weights_sha256' must be a string or null.")
    return Located(folder / WEIGHTS_FILE, path, config, data, sha)


def _read_checkpoint(folder: Path) -> Located:
    path = folder / _CHECKPOINT_META
    meta = _read_json(path)
    check_version(
        meta, path, max_version=_CHECKPOINT_FORMAT_VERSION, error=CheckpointError, required=False
    )
    record = meta.get("model_config")
    if not isinstance(record, dict):
        raise CheckpointError(
            f"{str(path)!r} has no field 'model_config' (written by an older siamreid). Build "
            "the model by hand and load model.safetensors with load_state_dict."
        )
    return Located(folder / WEIGHTS_FILE, path, _model_config(record, path), None)


class _Fields:
    """Typed access to a JSON record; a missing or mistyped field names the file and field."""

    def __init__(self, record: dict[str, Any], path: Path) -> None:
        self.record, self.path = record, path

    def _get(self, key: str, kinds: tuple[type, ...], expected: str) -> Any:
        if key not in self.record:
            raise CheckpointError(f"{str(self.path)!r} has no field {key!r} ({expected}).")
        value = self.record[key]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise CheckpointError(
                f"{str(self.path)!r}: field {key!r} must be {expected}, got {value!r}."
            )
        return value

    def text(self, key: str) -> str:
        return str(self._get(key, (str,), "a string"))

    def integer(self, key: str) -> int:
        return int(self._get(key, (int,), "an integer"))

    def flag(self, key: str) -> bool:
        return bool(self._get(key, (bool,), "true or false"))

    def triple(self, key: str) -> tuple[float, float, float]:
        value = self._get(key, (list,), "a list of 3 numbers")
        if len(value) != 3 or not all(isinstance(v, (int, float)) for v in value):
            raise CheckpointError(
                f"{str(self.path)!r}: field {key!r} must be a list of 3 numbers, got {value!r}."
            )
        return (float(value[0]), float(value[1]), float(value[2]))

    def size(self, key: str) -> tuple[int, int]:
        value = self._get(key, (list,), "[height, width]")
        if len(value) != 2 or not all(isinstance(v, int) for v in value):
            raise CheckpointError(
                f"{str(self.path)!r}: field {key!r} must be [height, width], got {value!r}."
            )
        return (int(value[0]), int(value[1]))

    def optional_number(self, key: str) -> float | None:
        value = self.record.get(key)
        if value is None:
            return None
        return float(self._get(key, (int, float), "a number or null"))


def _model_config(record: dict[str, Any], path: Path) -> ModelConfig:
    fields = _Fields(record, path)
    try:
        return ModelConfig(
            backbone=fields.text("backbone"),
            embedding_dim=fields.integer("embedding_dim"),
            pretrained=False,
            weights=None,
            num_classes=fields.integer("num_classes"),
            input_size=fields.size("input_size"),
            normalize=fields.flag("normalize"),
            drop_path_rate=fields.optional_number("drop_path_rate"),
            pooling=record.get("pooling", "avg"),  # absent before pooling was recorded
            last_stride=record.get("last_stride"),
        )
    except ConfigError as err:
        raise CheckpointError(f"{str(path)!r} holds an invalid model config: {err}") from err
