"""Nearest-neighbour search backends: exact torch brute force, faiss (flat, IVF, HNSW), Milvus.

Every backend answers the same question: given float32 embeddings ``[N, D]`` and queries
``[Q, D]``, the ``k`` nearest gallery rows by Euclidean distance (not squared), as distances and
row positions. The :class:`~siamreid.retrieval.Retriever` keeps the embeddings; a backend only
indexes them, so any backend can be rebuilt from the stored embeddings at any time.

faiss is an optional dependency (``pip install siamreid[faiss]``), imported only when a faiss
backend is created; so is the Milvus vector database (``pip install siamreid[milvus]``, see
:mod:`siamreid.retrieval.backends.milvus`), which also stores each row's id, camera and path.
"""

from __future__ import annotations

import contextlib
import importlib
import math
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args, runtime_checkable

import numpy as np
import torch

from siamreid.errors import ConfigError
from siamreid.retrieval.backends.options import IndexOptions
from siamreid.retrieval.backends.torch_search import QUERY_BLOCK, TorchBackend
from siamreid.typing import Metric

if TYPE_CHECKING:
    from siamreid.retrieval.gallery import Gallery

__all__ = [
    "QUERY_BLOCK",
    "BackendName",
    "FaissBackend",
    "IndexKind",
    "IndexOptions",
    "Metric",
    "RowStoreBackend",
    "SearchBackend",
    "TorchBackend",
    "create_backend",
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


class FaissBackend:
    """faiss ``IndexFlatL2`` (exact), ``IndexIVFFlat`` or ``IndexHNSWFlat``.

    The faiss index is built on the first :meth:`sync`; IVF trains its centroids on the gallery
    present then, and later additions are assigned to those centroids.

    Example:
        >>> backend = FaissBackend("hnsw")  # doctest: +SKIP
    """

    blas_tiles: tuple[int, int] | None = (512, 65536)
    """Flat search: queries x gallery rows per matrix multiply (128 MiB of distances);
    ``None`` keeps faiss's own settings."""

    def __init__(self, index: IndexKind = "flat", options: IndexOptions | None = None) -> None:
        self.index_kind: IndexKind = index
        self.options = options or IndexOptions()
        self._faiss = import_faiss()
        self._index: Any = None

    def sync(self, embeddings: torch.Tensor, start: int) -> None:
        """Add the rows from ``start`` on, or rebuild when ``start`` is not the indexed count."""
        if self._index is None or start != self._index.ntotal or start == 0:
            self._index = self._new_index(embeddings)
            start = 0
        if start < len(embeddings):
            self._index.add(_as_faiss_array(embeddings[start:]))

    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` nearest rows found by the faiss index."""
        with self._blas_tiles():
            sq_dist, indices = self._index.search(_as_faiss_array(queries), k)
        dist = torch.from_numpy(np.sqrt(np.maximum(sq_dist, 0.0)))
        missing = torch.from_numpy(indices < 0)
        return dist.masked_fill(missing, math.inf), torch.from_numpy(indices).long()

    @contextlib.contextmanager
    def _blas_tiles(self) -> Iterator[None]:
        """For flat search, faiss's matrix-multiply path on :attr:`blas_tiles`-sized tiles.

        faiss 1.15 sends batches of fewer than 128,000 queries (its
        ``distance_compute_blas_threshold``) to a one-query-at-a-time path that streams the
        whole gallery from memory once per query, and multiplies 1,024 gallery rows at a time
        on its BLAS path; both are several times slower than a large matrix multiply (see
        ``docs/benchmarks.md``). These are process-wide faiss settings: they are restored
        after the search.
        """
        if self.index_kind != "flat" or self.blas_tiles is None:
            yield
            return
        cvar = self._faiss.cvar
        knobs = {
            "distance_compute_blas_threshold": FAISS_BLAS_MIN_QUERIES,
            "distance_compute_blas_query_bs": self.blas_tiles[0],
            "distance_compute_blas_database_bs": self.blas_tiles[1],
        }
        old = {name: getattr(cvar, name) for name in knobs}
        try:
            for name, value in knobs.items():
                setattr(cvar, name, value)
            yield
        finally:
            for name, value in old.items():
                setattr(cvar, name, value)

    @property
    def nlist(self) -> int | None:
        """IVF lists of the built index (``None`` before the first build or for other kinds)."""
        return (
            int(self._index.nlist) if self.index_kind == "ivf" and self._index is not None else None
        )

    def _new_index(self, embeddings: torch.Tensor) -> Any:
        faiss, opts, dim = self._faiss, self.options, embeddings.shape[1]
        if self.index_kind == "flat":
            return faiss.IndexFlatL2(dim)
        if self.index_kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, opts.hnsw_m)
            index.hnsw.efConstruction = opts.ef_construction
            index.hnsw.efSearch = opts.ef_search
            return index
        nlist = opts.nlist or default_nlist(len(embeddings))
        if nlist > len(embeddings):
            raise ConfigError(
                f"IndexOptions.nlist={nlist} needs at least {nlist} gallery embeddings to train "
                f"the IVF index, but the gallery has {len(embeddings)}; lower nlist or use "
                "index='flat'."
            )
        quantizer = faiss.IndexFlatL2(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist)
        index.train(_as_faiss_array(embeddings))
        index.nprobe = opts.nprobe or default_nprobe(nlist)
        return index


FAISS_BLAS_MIN_QUERIES = 20
"""Fewest queries for which faiss flat search takes the matrix-multiply path (faiss's old
default; below it the one-query-at-a-time path is faster)."""


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


def import_faiss() -> ModuleType:
    """The faiss module, or an ImportError that says how to install it."""
    try:
        return importlib.import_module("faiss")
    except ImportError as err:
        raise ImportError(
            "backend='faiss' needs the faiss library, which is not installed: run "
            "`pip install siamreid[faiss]` (or `pip install faiss-cpu`), or use backend='torch'."
        ) from err


def create_backend(
    backend: BackendName = "torch",
    index: IndexKind = "flat",
    options: IndexOptions | None = None,
    *,
    owner: str | None = None,
) -> SearchBackend:
    """A search backend by name.

    Args:
        backend: ``"torch"`` (exact brute force, no extra dependency), ``"faiss"`` or
            ``"milvus"`` (a vector database, embedded or a server: ``options.uri``).
        index: ``"flat"`` (exact), ``"ivf"`` or ``"hnsw"`` (approximate; faiss and milvus).
        options: Tuning knobs; defaults to :class:`IndexOptions()`.
        owner: milvus: the identity of the index whose rows the collection holds (see
            :mod:`siamreid.retrieval.backends.milvus`); ``None``: a fresh one.

    Raises:
        ConfigError: Unknown backend or index kind, or an approximate index with torch.
        ImportError: The backend's library (faiss, pymilvus) is not installed.

    Example:
        >>> backend = create_backend("torch", "flat")
        >>> type(backend).__name__
        'TorchBackend'
    """
    if backend not in BACKEND_NAMES:
        raise ConfigError(f"Unknown backend {backend!r}; expected one of {list(BACKEND_NAMES)}.")
    if index not in INDEX_KINDS:
        raise ConfigError(f"Unknown index {index!r}; expected one of {list(INDEX_KINDS)}.")
    if backend == "torch":
        if index != "flat":
            raise ConfigError(
                f"index={index!r} is an approximate faiss index; use backend='faiss' with it, "
                "or index='flat' with backend='torch'."
            )
        return TorchBackend(options)
    if backend == "milvus":
        from siamreid.retrieval.backends.milvus import MilvusBackend

        return MilvusBackend(index, options, owner)
    return FaissBackend(index, options)


def _as_faiss_array(tensor: torch.Tensor) -> np.ndarray[Any, np.dtype[np.float32]]:
    return np.ascontiguousarray(tensor.detach().cpu().numpy(), dtype=np.float32)
