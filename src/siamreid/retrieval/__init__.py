"""Searchable galleries of person embeddings: the Retriever and its search backends."""

from siamreid.retrieval.backends import (
    BackendName,
    FaissBackend,
    IndexKind,
    IndexOptions,
    Metric,
    RowStoreBackend,
    SearchBackend,
    TorchBackend,
    create_backend,
)
from siamreid.retrieval.backends.milvus import MilvusBackend
from siamreid.retrieval.embedders import Embedder
from siamreid.retrieval.results import SearchResult
from siamreid.retrieval.retriever import Retriever
from siamreid.typing import ImageInput

__all__ = [
    "BackendName",
    "Embedder",
    "FaissBackend",
    "ImageInput",
    "IndexKind",
    "IndexOptions",
    "Metric",
    "MilvusBackend",
    "Retriever",
    "RowStoreBackend",
    "SearchBackend",
    "SearchResult",
    "TorchBackend",
    "create_backend",
]
