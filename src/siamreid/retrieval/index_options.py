"""IndexOptions: the tuning knobs of every search backend, recorded in saved indexes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from siamreid.errors import ConfigError

__all__ = ["IndexOptions"]


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
