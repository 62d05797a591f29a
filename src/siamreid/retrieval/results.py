"""What a search returns: the k nearest gallery entries of each query, with their columns."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from siamreid.errors import InputError
from siamreid.retrieval.gallery import Gallery

__all__ = ["SearchResult", "gather_result"]


@dataclass(frozen=True, eq=False)
class SearchResult:
    """The ``k`` nearest gallery entries of each query, nearest first.

    Attributes:
        distances: ``[Q, k]`` float32 Euclidean distances (not squared). With
            ``metric="cosine"`` they are between unit vectors: ``cos = 1 - d**2 / 2``.
        ids: ``[Q, k]`` int64 gallery ids.
        indices: ``[Q, k]`` int64 positions in the gallery (insertion order, after removals).
        camids: ``[Q, k]`` int64 camera ids, or ``None`` when the gallery has none.
        paths: ``Q`` lists of ``k`` paths, or ``None`` when the gallery has none.

    An approximate index may find fewer than ``k`` entries; missing slots hold index and id
    ``-1``, distance ``inf``, camera ``-1`` and path ``""``.
    """

    distances: torch.Tensor
    ids: torch.Tensor
    indices: torch.Tensor
    camids: torch.Tensor | None = None
    paths: list[list[str]] | None = None

    def __post_init__(self) -> None:
        shape = tuple(self.distances.shape)
        for name in ("ids", "indices", "camids"):
            value = getattr(self, name)
            if value is not None and tuple(value.shape) != shape:
                raise InputError(
                    f"SearchResult.{name} has shape {tuple(value.shape)}, not {shape}."
                )
        if self.paths is not None and [len(row) for row in self.paths] != [shape[1]] * shape[0]:
            raise InputError(f"SearchResult.paths must be {shape[0]} lists of {shape[1]} paths.")

    def __len__(self) -> int:
        return int(self.distances.shape[0])

    @property
    def k(self) -> int:
        """Neighbours per query (the requested ``k`` clamped to the gallery size)."""
        return int(self.distances.shape[1])


def gather_result(gallery: Gallery, distances: torch.Tensor, indices: torch.Tensor) -> SearchResult:
    """A :class:`SearchResult` of gallery rows ``indices`` (``-1``: not found) at ``distances``."""
    found = indices >= 0
    safe = indices.clamp(min=0)

    def pick(values: torch.Tensor) -> torch.Tensor:
        return torch.where(found, values[safe], torch.full_like(safe, -1))

    paths = None
    if gallery.paths is not None:
        table = gallery.paths
        paths = [[table[i] if i >= 0 else "" for i in row] for row in indices.tolist()]
    return SearchResult(
        distances=distances.float(),
        ids=pick(gallery.ids),
        indices=indices.long(),
        camids=None if gallery.camids is None else pick(gallery.camids),
        paths=paths,
    )
