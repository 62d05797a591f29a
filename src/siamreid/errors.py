"""The exceptions siamreid raises: one hierarchy rooted at :class:`SiamreidError`.

Every message names the thing at fault (a path, a field, a model name), what was expected, and
the fix. Each error also derives from the closest builtin so that ``except ValueError`` code keeps
working.
"""

from __future__ import annotations

__all__ = [
    "BackboneError",
    "CheckpointError",
    "ConfigError",
    "DatasetLayoutError",
    "ExportError",
    "ImageLoadError",
    "IndexFormatError",
    "InputError",
    "NonFiniteLossError",
    "PretrainedWeightsError",
    "RunFolderError",
    "SiamreidError",
    "VectorStoreError",
]


class SiamreidError(Exception):
    """Root of every error raised by siamreid."""


class InputError(SiamreidError, ValueError):
    """An argument has the wrong type, shape or value (a bad id, a negative k, mismatched
    lengths); the message names the argument, what was expected and what was given."""


class DatasetLayoutError(SiamreidError, ValueError):
    """A dataset folder is missing, empty, or laid out differently from what the adapter reads."""


class ImageLoadError(SiamreidError, OSError):
    """An image file cannot be opened or decoded (missing, truncated, not an image)."""


class BackboneError(SiamreidError, ValueError):
    """A backbone name is unknown to timm, or the backbone cannot be built."""


class PretrainedWeightsError(SiamreidError, RuntimeError):
    """Pretrained weights cannot be loaded (offline, missing local file, wrong architecture)."""


class ConfigError(SiamreidError, ValueError):
    """A configuration field has an invalid value, or a config file has unknown keys."""


class CheckpointError(SiamreidError, RuntimeError):
    """A checkpoint or saved model is missing, corrupt, or does not fit the model at hand."""


class NonFiniteLossError(SiamreidError, FloatingPointError):
    """Training produced a NaN or infinite loss."""


class IndexFormatError(SiamreidError, ValueError):
    """A saved retrieval index is corrupt, foreign, or does not match the queries."""


class ExportError(SiamreidError, RuntimeError):
    """A model cannot be exported, or the exported model disagrees with PyTorch."""


class RunFolderError(SiamreidError, FileExistsError):
    """A run folder already holds a run (resume or overwrite it), or holds files of no run."""


class VectorStoreError(SiamreidError, RuntimeError):
    """A Milvus store cannot be opened or reached, or holds a collection siamreid does not own
    (not created by siamreid, or by another index); the message names the URI and collection."""
