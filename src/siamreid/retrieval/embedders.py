"""What the Retriever needs from a model, and whether a model fits a saved index."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import torch

from siamreid.errors import IndexFormatError
from siamreid.retrieval.bundle.storage import IndexMeta
from siamreid.typing import ImageInput

__all__ = ["Embedder", "check_embedder", "weights_digest"]


@runtime_checkable
class Embedder(Protocol):
    """What the Retriever needs from a model; :class:`siamreid.SiameseEmbedder` is one.

    Two optional members are used when present: ``weights_digest`` (a string identifying the
    weights, recorded in saved indexes and checked on load) and ``save_pretrained(folder)``
    (a copy of the model saved into the index bundle).
    """

    @property
    def embedding_dim(self) -> int:
        """Width of the embeddings."""
        ...

    @property
    def backbone_name(self) -> str:
        """Name recorded in saved indexes, checked again on load."""
        ...

    def embed(self, images: ImageInput, *, batch_size: int = 64) -> torch.Tensor:
        """Float32 ``[N, D]`` CPU embeddings of paths, PIL images, uint8 HWC arrays or a batch."""
        ...


def weights_digest(embedder: object) -> str | None:
    """The weights digest of an embedder that reports one (``SiameseEmbedder`` does)."""
    digest = getattr(embedder, "weights_digest", None)
    return digest if isinstance(digest, str) else None


def check_embedder(
    embedder: Embedder | None, meta: IndexMeta, directory: Path, allow_other_model: bool
) -> None:
    """Raise :class:`IndexFormatError` unless ``embedder`` is the model that built the index.

    Name and width must match the record; so must the weights digest, when both sides have
    one, unless ``allow_other_model``. ``None`` (no embedder) always fits.
    """
    if embedder is None:
        return
    name, dim = embedder.backbone_name, embedder.embedding_dim
    name_differs = meta.embedder is not None and name != meta.embedder
    if name_differs or dim != (meta.embedding_dim or dim):
        raise IndexFormatError(
            f"Index {str(directory)!r} holds embeddings of {meta.embedder!r} (dimension "
            f"{meta.embedding_dim}), but the embedder given is {name!r} (dimension {dim}); "
            "load it with the model that built it, or rebuild the index."
        )
    digest = weights_digest(embedder)
    if allow_other_model or digest is None or meta.embedder_digest is None:
        return
    if digest != meta.embedder_digest:
        raise IndexFormatError(
            f"Index {str(directory)!r} was built with {meta.embedder!r} weights "
            f"{meta.embedder_digest[:12]}, but the embedder given is {name!r} weights "
            f"{digest[:12]}: same architecture, other weights, so its embeddings are not "
            "comparable to the gallery's. Search with the index's own model copy, rebuild the "
            "index with this model, or pass allow_other_model=True (--allow-other-model)."
        )
