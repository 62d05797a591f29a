"""Nearest-neighbour search backends: exact torch brute force, faiss (flat, IVF, HNSW), Milvus.

Every backend answers the same question: given float32 embeddings ``[N, D]`` and queries
``[Q, D]``, the ``k`` nearest gallery rows by Euclidean distance (not squared), as distances and
row positions. The :class:`~siamreid.retrieval.Retriever` keeps the embeddings; a backend only
indexes them, so any backend can be rebuilt from the stored embeddings at any time.

faiss is an optional dependency (``pip install siamreid[faiss]``), imported only when a faiss
backend is created; so is the Milvus vector database (``pip install siamreid[milvus]``, see
:mod:`siamreid.retrieval.vectordb`), which also stores each row's id, camera and path.
"""

from __future__ import annotations

import contextlib
import importlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args, runtime_checkable

import numpy as np
import torch

from siamreid.errors import ConfigError
from siamreid.typing import Metric

if TYPE_CHECKING:
    from siamreid.retrieval.gallery import Gallery

__all__ = [
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


@dataclass(frozen=True)
class IndexOptions:
    """Tuning knobs of the search index; each only matters for the index kind named.

    Attributes:
        nlist: IVF: number of inverted lists; ``None`` picks about ``sqrt(N)`` at build time
            (at most ``N // 39``, so that k-means has the 39 points per centroid faiss asks for).
        nprobe: IVF: lists visited per query (``nprobe >= nlist`` makes IVF exact); ``None``
            visits a quarter of the lists (:func:`default_nprobe`), which reaches recall@10
            >= 0.95 on re-id-shaped galleries (see ``docs/benchmarks.md``).
        hnsw_m: HNSW: graph neighbours per node.
        ef_construction: HNSW: candidate list size while building.
        ef_search: HNSW: candidate list size while searching (raise it for recall; 128
            reaches recall@10 >= 0.95 on re-id-shaped galleries with ``hnsw_m=32``).
        max_chunk_elements: torch: most query-gallery distances held in memory at once
            (the default, 2**25, is 128 MiB of float32).
        uri: milvus: where the collection lives: ``None`` (a temporary embedded store), a
            path ending in ``.db`` (an embedded store kept on disk) or ``http://host:19530``
            (a Milvus server or cluster; its token, if any, in ``MILVUS_TOKEN``).
        collection: milvus: the collection's name.
    """

    nlist: int | None = None
    nprobe: int | None = None
    hnsw_m: int = 32
    ef_construction: int = 80
    ef_search: int = 128
    max_chunk_elements: int = 2**25
    uri: str | None = None
    collection: str = "siamreid_gallery"

    def __post_init__(self) -> None:
        if self.uri is not None and not (
            isinstance(self.uri, str)
            and (self.uri.endswith(".db") or self.uri.startswith(("http://", "https://")))
        ):
            raise ConfigError(
                f"IndexOptions.uri={self.uri!r} is neither an embedded store (a path ending in "
                "'.db') nor a Milvus server ('http://host:19530'); pass one of those, or None "
                "for a temporary embedded store."
            )
        if not (isinstance(self.collection, str) and self.collection.isidentifier()):
            raise ConfigError(
                f"IndexOptions.collection must be letters, digits and underscores, not starting "
                f"with a digit, got {self.collection!r}."
            )
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("uri", "collection") or (value is None and f.name in ("nlist", "nprobe")):
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(
                    f"IndexOptions.{f.name} must be a positive integer, got {value!r}."
                )

    def to_dict(self) -> dict[str, Any]:
        """The options as plain JSON-able data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexOptions:
        """Options from :meth:`to_dict` output; unknown keys raise :class:`ConfigError`."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"Unknown IndexOptions field(s) {unknown}; expected some of {sorted(known)}."
            )
        return cls(**data)


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


class TorchBackend:
    """Exact brute-force search: chunked matmul and top-k; ties go to the earlier gallery row.

    Example:
        >>> backend = TorchBackend()
        >>> backend.sync(torch.eye(3), start=0)
        >>> backend.search(torch.eye(3)[:1], k=2)[1].tolist()
        [[0, 1]]
    """

    def __init__(self, options: IndexOptions | None = None) -> None:
        self.options = options or IndexOptions()
        self._gallery = torch.empty(0, 0)
        self._sq_norms = torch.empty(0)

    def sync(self, embeddings: torch.Tensor, start: int) -> None:
        """Reference the gallery (no copy) and cache its squared norms."""
        self._gallery = embeddings
        blocks = torch.split(embeddings, 65536)  # bounded temporaries for large galleries
        self._sq_norms = torch.cat([b.pow(2).sum(dim=1) for b in blocks] or [torch.empty(0)])

    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact ``k`` nearest rows, ordered by (distance, row).

        Distances are computed tile by tile (at most ``max_chunk_elements`` at once). A tile
        takes the whole gallery when that leaves room for many queries; for large galleries it
        takes at least :data:`QUERY_BLOCK` queries against a slice of the gallery, so that
        each matmul is large enough to run near the machine's matmul speed, and the ``k`` best
        of each slice are merged.
        """
        n, budget = len(self._gallery), self.options.max_chunk_elements
        q_block = min(len(queries), max(1, budget // max(1, n)))
        if q_block < min(len(queries), QUERY_BLOCK):
            q_block = min(len(queries), QUERY_BLOCK, budget)
        g_block = max(1, budget // max(1, q_block))
        dist_parts: list[torch.Tensor] = []
        index_parts: list[torch.Tensor] = []
        for chunk in torch.split(queries, q_block):
            best: tuple[torch.Tensor, torch.Tensor] | None = None
            for start in range(0, n, g_block):
                partial = self._partial_distances(chunk, start, start + g_block)
                values, indices = _stable_topk(partial, min(k, partial.shape[1]))
                best = _merge(best, values, indices.add_(start), k)
            assert best is not None  # n >= k >= 1
            # the query's own norm ranks nothing, so it is added to the k kept values only;
            # rounding can push a zero distance slightly negative
            sq_dist = best[0].add_(chunk.pow(2).sum(dim=1, keepdim=True)).clamp_(min=0.0)
            dist_parts.append(sq_dist.sqrt())
            index_parts.append(best[1])
        return torch.cat(dist_parts), torch.cat(index_parts)

    def _partial_distances(self, queries: torch.Tensor, start: int, end: int) -> torch.Tensor:
        """``|g|^2 - 2 q.g`` for gallery rows ``start:end``: squared distances less ``|q|^2``."""
        gallery = self._gallery[start:end]
        return torch.addmm(self._sq_norms[start:end], queries, gallery.T, alpha=-2.0)


QUERY_BLOCK = 1024
"""Fewest queries per distance tile of :class:`TorchBackend` when the gallery is sliced."""


def _merge(
    best: tuple[torch.Tensor, torch.Tensor] | None,
    values: torch.Tensor,
    indices: torch.Tensor,
    k: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` best of ``best`` and a later gallery slice's candidates, by (value, row).

    Both inputs are ordered by (value, row) and every row in ``indices`` comes after those in
    ``best``, so a stable sort of the concatenation by value keeps ties in row order.
    """
    if best is None:
        return values, indices
    values, order = torch.cat([best[0], values], dim=1).sort(dim=1, stable=True)
    indices = torch.cat([best[1], indices], dim=1).gather(1, order)
    return values[:, :k], indices[:, :k]


def _stable_topk(sq_dist: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Smallest ``k`` per row, ordered by (value, column), as a stable sort would give."""
    extra = min(k + 1, sq_dist.shape[1])  # one more, to see ties across the k-th place
    values, indices = torch.topk(sq_dist, extra, dim=1, largest=False, sorted=True)
    straddling = (
        (values[:, k] == values[:, k - 1])
        if extra > k
        else torch.zeros(len(values), dtype=torch.bool)
    )
    values, indices = values[:, :k], indices[:, :k]
    indices, order = indices.sort(dim=1)
    values, order = values.gather(1, order).sort(dim=1, stable=True)
    indices = indices.gather(1, order)
    # topk chose arbitrarily among values tied at the k-th place: redo those rows in full
    for row in straddling.nonzero().flatten().tolist():
        row_values, row_indices = sq_dist[row].sort(stable=True)
        values[row], indices[row] = row_values[:k], row_indices[:k]
    return values, indices


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
) -> SearchBackend:
    """A search backend by name.

    Args:
        backend: ``"torch"`` (exact brute force, no extra dependency), ``"faiss"`` or
            ``"milvus"`` (a vector database, embedded or a server: ``options.uri``).
        index: ``"flat"`` (exact), ``"ivf"`` or ``"hnsw"`` (approximate; faiss and milvus).
        options: Tuning knobs; defaults to :class:`IndexOptions()`.

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
        from siamreid.retrieval.vectordb import MilvusBackend

        return MilvusBackend(index, options)
    return FaissBackend(index, options)


def _as_faiss_array(tensor: torch.Tensor) -> np.ndarray[Any, np.dtype[np.float32]]:
    return np.ascontiguousarray(tensor.detach().cpu().numpy(), dtype=np.float32)
