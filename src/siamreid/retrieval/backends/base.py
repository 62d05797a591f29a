"""What every search backend is: the protocols, the names, and the IVF defaults they share.

Every backend answers the same question: given float32 embeddings ``[N, D]`` and queries
``[Q, D]``, the ``k`` nearest gallery rows by Euclidean distance (not squared), as distances and
row positions. The :class:`~siamreid.retrieval.Retriever` keeps the embeddings; a backend only
indexes them, so any backend can be rebuilt from the stored embeddings at any time. Backends
import this module, never the factory (:func:`siamreid.retrieval.backends.create_backend`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, Protocol, get_args, runtime_checkable

import torch

if TYPE_CHECKING:
    from siamreid.retrieval.gallery import Gallery

__all__ = [
    "BACKEND_NAMES",
    "INDEX_KINDS",
    "BackendName",
    "IndexKind",
    "RowStoreBackend",
    "SearchBackend",
    "default_nlist",
    "default_nprobe",
]

BackendName = Literal["torch", "faiss", "milvus"]
IndexKind = Literal["flat", "ivf", "hnsw"]

BACKEND_NAMES: tuple[str, ...] = get_args(BackendName)
INDEX_KINDS: tuple[str, ...] = get_args(IndexKind)


class SearchBackend(Protocol):
    """What the Retriever needs from a backend."""

    def sync(self, embeddings: torch.Tensor, start: int) -> None:
        """Make the index hold exactly ``embeddings`` (float32 ``[N, D]``).

        Rows before ``start`` are already indexed and unchanged; ``start=0`` rebuilds.
        """
        ...

    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Euclidean distances ``[Q, k]`` (float32) and gallery rows ``[Q, k]`` (int64).

        ``1 <= k <= N``. Approximate indexes may find fewer than ``k`` rows; the missing slots
        hold row ``-1`` and distance ``inf``.
        """
        ...


@runtime_checkable
class RowStoreBackend(Protocol):
    """A backend that stores whole gallery rows (ids, cameras, paths) and filters by camera."""

    def sync_rows(self, gallery: Gallery, start: int) -> None:
        """Make the store hold exactly the gallery's rows; rows before ``start`` are stored."""
        ...

    def search(
        self, queries: torch.Tensor, k: int, camids: Sequence[int] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """As :meth:`SearchBackend.search`, among rows of the cameras ``camids`` (all if None)."""
        ...


def default_nprobe(nlist: int) -> int:
    """A quarter of the IVF lists, rounded up.

    Re-id galleries hold few images per person, so several of a query's 10 nearest lie outside
    its person's cluster, about as far as any other person: finding them takes many lists. On
    the benchmark's data (``benchmarks/bench_retrieval.py``) a fifth of the lists reaches
    recall@10 0.96 at 100k; a quarter leaves a margin.
    """
    return max(1, math.ceil(nlist / 4))


def default_nlist(num_embeddings: int) -> int:
    """About ``sqrt(N)`` IVF lists, capped so that each centroid trains on >= 39 points."""
    return max(1, min(round(math.sqrt(num_embeddings)), num_embeddings // 39))
