"""Searchable galleries of person embeddings: the Retriever and its search backends."""

from siamreid.retrieval.backends import (
    BackendName,
    FaissBackend,
    IndexKind,
    IndexOptions,
    Metric,
    SearchBackend,
    TorchBackend,
    create_backend,
)
from siamreid.retrieval.retriever import Embedder, ImageInput, Retriever, SearchResult

__all__ = [
    "BackendName",
    "Embedder",
    "FaissBackend",
    "ImageInput",
    "IndexKind",
    "IndexOptions",
    "Metric",
    "Retriever",
    "SearchBackend",
    "SearchResult",
    "TorchBackend",
    "create_backend",
]
