"""faiss search: ``IndexFlatL2`` (exact), ``IndexIVFFlat`` and ``IndexHNSWFlat``.

faiss is an optional dependency (``pip install siamreid[faiss]``), imported only when a faiss
backend is created.
"""

from __future__ import annotations

import contextlib
import importlib
import math
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np
import torch

from siamreid.errors import ConfigError
from siamreid.retrieval.backends.base import IndexKind, default_nlist, default_nprobe
from siamreid.retrieval.backends.options import IndexOptions

__all__ = ["FAISS_BLAS_MIN_QUERIES", "FaissBackend", "import_faiss"]


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


def import_faiss() -> ModuleType:
    """The faiss module, or an ImportError that says how to install it."""
    try:
        return importlib.import_module("faiss")
    except ImportError as err:
        raise ImportError(
            "backend='faiss' needs the faiss library, which is not installed: run "
            "`pip install siamreid[faiss]` (or `pip install faiss-cpu`), or use backend='torch'."
        ) from err


def _as_faiss_array(tensor: torch.Tensor) -> np.ndarray[Any, np.dtype[np.float32]]:
    return np.ascontiguousarray(tensor.detach().cpu().numpy(), dtype=np.float32)
