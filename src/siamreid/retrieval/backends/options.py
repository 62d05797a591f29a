"""IndexOptions: the tuning knobs of every search backend, recorded in saved indexes."""

from __future__ import annotations

import re
import uuid
import warnings
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from siamreid.errors import ConfigError

__all__ = ["IndexOptions", "is_index_id", "new_index_id", "unconfirmed_store"]


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
            (a Milvus server or cluster; its token, if any, in ``MILVUS_TOKEN``). A loaded
            bundle's saved ``uri`` is not connected to unless the caller passes it again.
        collection: milvus: the collection's name; ``None`` (the default) names it after the
            index (``siamreid_<index id>``), so two indexes never share one. siamreid only
            writes to, drops or searches collections it created for the same index.
        timeout: milvus: seconds to wait for the server to connect or answer.
    """

    nlist: int | None = None
    nprobe: int | None = None
    hnsw_m: int = 32
    ef_construction: int = 80
    ef_search: int = 128
    max_chunk_elements: int = 2**25
    uri: str | None = None
    collection: str | None = None
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.uri is not None and not (
            isinstance(self.uri, str)
            and (
                self.uri.startswith(("http://", "https://"))
                or (self.uri.endswith(".db") and "://" not in self.uri)
            )
        ):
            raise ConfigError(
                f"IndexOptions.uri={self.uri!r} is neither an embedded store (a path ending in "
                "'.db') nor a Milvus server ('http://host:19530'); pass one of those, or None "
                "for a temporary embedded store."
            )
        if self.collection is not None and not (
            isinstance(self.collection, str) and self.collection.isidentifier()
        ):
            raise ConfigError(
                f"IndexOptions.collection must be letters, digits and underscores, not starting "
                f"with a digit, got {self.collection!r}."
            )
        timeout = self.timeout
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ConfigError(f"IndexOptions.timeout must be positive seconds, got {timeout!r}.")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("uri", "collection", "timeout") or (
                value is None and f.name in ("nlist", "nprobe")
            ):
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

    def collection_for(self, index_id: str) -> str:
        """The collection's name: :attr:`collection`, else one named after the index."""
        return self.collection or f"siamreid_{index_id}"


def unconfirmed_store(saved: dict[str, Any], backend: str, bundle: Path) -> IndexOptions:
    """A loaded bundle's options, less the Milvus store its file names (not confirmed by the
    caller): a temporary embedded store instead, with a warning saying how to use the saved one.
    """
    options = IndexOptions.from_dict(saved)
    if backend == "milvus" and options.uri is not None:
        warnings.warn(
            f"Index {str(bundle)!r} was built on the Milvus store {options.uri!r}; it is not "
            "connected to unless you name it: searching a temporary embedded store instead. "
            f"Pass options=IndexOptions(uri={options.uri!r}) to use the saved one.",
            stacklevel=3,
        )
    return replace(options, uri=None)


def new_index_id() -> str:
    """A fresh index identity: 32 random hex digits (saved in the bundle)."""
    return uuid.uuid4().hex


def is_index_id(value: object) -> bool:
    """Whether ``value`` is an index identity as :func:`new_index_id` makes them."""
    return isinstance(value, str) and re.fullmatch(r"[0-9a-f]{32}", value) is not None
