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

from siamreid.errors import ConfigError
from siamreid.retrieval.backends.base import (
    BACKEND_NAMES,
    INDEX_KINDS,
    BackendName,
    IndexKind,
    RowStoreBackend,
    SearchBackend,
    default_nlist,
    default_nprobe,
)
from siamreid.retrieval.backends.faiss_search import FaissBackend, import_faiss
from siamreid.retrieval.backends.milvus import MilvusBackend
from siamreid.retrieval.backends.options import IndexOptions
from siamreid.retrieval.backends.torch_search import QUERY_BLOCK, TorchBackend
from siamreid.typing import Metric

__all__ = [
    "BACKEND_NAMES",
    "INDEX_KINDS",
    "QUERY_BLOCK",
    "BackendName",
    "FaissBackend",
    "IndexKind",
    "IndexOptions",
    "Metric",
    "MilvusBackend",
    "RowStoreBackend",
    "SearchBackend",
    "TorchBackend",
    "create_backend",
    "default_nlist",
    "default_nprobe",
    "import_faiss",
]


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
        return MilvusBackend(index, options, owner)
    return FaissBackend(index, options)
