"""A Retriever backend on the Milvus vector database: embedded (milvus-lite) or a server by URI.

The same client (``pymilvus.MilvusClient``) opens an embedded store in a local file when the URI
ends in ``.db`` (milvus-lite: no server, the default here) and a Milvus server or cluster when
it is ``http://host:19530`` (with an optional token). Each gallery row is stored with its
position (the primary key), id, camera and path, so the database alone answers a search,
including a search restricted to some cameras.

The Retriever's gallery stays the source of truth, as with every backend: :meth:`sync_rows`
copies rows into the collection (appending, or rebuilding it after a removal), and distances are
recomputed from the gallery's embeddings for the rows the database returns, so they equal the
torch backend's whatever metric convention the server uses.

A collection siamreid creates carries the index's identity (the ``siamreid.owner`` property,
the :attr:`~siamreid.retrieval.Retriever.index_id` saved in its bundle), and is named after it
unless :attr:`~siamreid.retrieval.IndexOptions.collection` names it. siamreid writes to, drops
and searches only such a collection of the same index: a user's own collection, or another
index's, is refused with :class:`~siamreid.errors.VectorStoreError`, as are a store that cannot
be opened (locked by another process, a missing folder, a server that does not answer).

pymilvus is an optional dependency (``pip install siamreid[milvus]``), imported only when the
backend is created.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import math
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from siamreid.errors import InputError, VectorStoreError
from siamreid.retrieval.backends.base import IndexKind, default_nprobe
from siamreid.retrieval.backends.milvus_errors import is_embedded, not_owned, store_failure
from siamreid.retrieval.backends.options import IndexOptions, is_index_id, new_index_id

if TYPE_CHECKING:
    from siamreid.retrieval.gallery import Gallery

__all__ = ["MilvusBackend", "import_pymilvus"]

INSERT_BATCH = 4096  # rows per insert request (8 MiB of 512-d float32)
SEARCH_BATCH = 1024  # queries per search request
FLAT_SEARCH_ELEMENTS = 2**26  # most query-row-dimension differences one FLAT request asks for
FINGERPRINT_KEY = "siamreid.rows"  # collection property: count and digest of the stored rows
OWNER_KEY = "siamreid.owner"  # collection property: the id of the index that created it
_MILVUS_INDEX = {"flat": "FLAT", "ivf": "IVF_FLAT", "hnsw": "HNSW"}


class MilvusBackend:
    """Gallery rows in a Milvus collection; exact (``FLAT``) or ``IVF_FLAT`` / ``HNSW``.

    Args:
        index: ``"flat"`` (exact), ``"ivf"`` or ``"hnsw"``, tuned by the same
            :class:`~siamreid.retrieval.IndexOptions` fields as faiss.
        options: Index tuning, plus ``uri`` (``None``: a private embedded store in a
            temporary folder, removed when the backend is; a path ending in ``.db``: an
            embedded store kept on disk; ``http://host:port``: a Milvus server, with its
            token, if any, in the ``MILVUS_TOKEN`` environment variable) and ``collection``.
        owner: The identity of the index the rows belong to (``None``: a fresh one); the
            collection is marked with it, and named after it unless ``options`` name it.

    Raises:
        ImportError: pymilvus (or milvus-lite, for a ``.db`` URI) is not installed; the
            message names the extra to install.
        VectorStoreError: The store cannot be opened (here or at the first write or search).

    Example:
        >>> backend = MilvusBackend("flat", IndexOptions(uri="gallery.db"))  # doctest: +SKIP
    """

    def __init__(
        self,
        index: IndexKind = "flat",
        options: IndexOptions | None = None,
        owner: str | None = None,
    ) -> None:
        self.index_kind: IndexKind = index
        self.options = options or IndexOptions()
        uri = self.options.uri
        pymilvus = import_pymilvus(embedded=uri is None or is_embedded(uri))
        if uri is None:
            folder = tempfile.mkdtemp(prefix="siamreid-milvus-")
            self._cleanup = weakref.finalize(self, shutil.rmtree, folder, ignore_errors=True)
            uri = os.path.join(folder, "gallery.db")
        self.uri = uri
        self.owner = ""
        self.collection = ""
        self.adopt(owner or new_index_id())
        self._pymilvus = pymilvus
        token = os.environ.get("MILVUS_TOKEN", "")  # a secret: never in IndexOptions
        with self._store_errors():
            self._client: Any = pymilvus.MilvusClient(
                uri, token=token, timeout=self.options.timeout
            )
        self._gallery = torch.empty(0, 0)
        self._rows = 0  # gallery rows held by the collection
        self._digest = _RowsDigest()  # of those rows
        self.inserted = 0  # rows written by this backend (a reused collection writes none)
        self._owned = False  # the collection is checked to be this index's

    def adopt(self, owner: str) -> None:
        """Take the identity of the index the rows belong to (before the first write)."""
        if getattr(self, "_owned", False) or not is_index_id(owner):
            raise InputError(
                f"MilvusBackend.adopt({owner!r}): the owner is an index id (32 hex digits), "
                "taken before the first write."
            )
        self.owner, self.collection = owner, self.options.collection_for(owner)

    @property
    def stored_rows(self) -> int:
        """Rows the collection holds in the database (0 when it does not exist)."""
        with self._store_errors():
            if not self._client.has_collection(self.collection):
                return 0
            stats = self._client.get_collection_stats(self.collection)
        return int(stats.get("row_count", 0))

    def close(self) -> None:
        """Close the client and, for an embedded store, stop its in-process server (the data
        stays on disk: a backend opened later on the same ``uri`` finds it)."""
        with self._store_errors():
            self._client.close()
        if self.uri.endswith(".db"):
            server_manager = importlib.import_module("milvus_lite.server_manager")
            server_manager.server_manager_instance.release_server(self.uri)

    def sync(self, embeddings: torch.Tensor, start: int) -> None:
        """Store rows without ids, cameras or paths (ids are the rows); see :meth:`sync_rows`."""
        n = len(embeddings)
        with self._store_errors():
            self._write(embeddings, torch.arange(n), None, None, start)

    def sync_rows(self, gallery: Gallery, start: int) -> None:
        """Make the collection hold exactly the gallery's rows, with ids, cameras and paths.

        Rows before ``start`` are already stored and unchanged; ``start=0`` rebuilds, unless
        the collection already holds exactly these rows (a store reopened with the gallery
        it was built from), which is then reused as it is.
        """
        with self._store_errors():
            self._write(gallery.embeddings, gallery.ids, gallery.camids, gallery.paths, start)

    def search(
        self, queries: torch.Tensor, k: int, camids: Sequence[int] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Distances ``[Q, k]`` and gallery rows ``[Q, k]`` of the nearest stored rows.

        Args:
            queries: Float32 ``[Q, D]`` queries.
            k: Neighbours per query.
            camids: Search only rows of these cameras (``None``: every row).

        Rows are ordered by (distance, row); slots the database could not fill hold row ``-1``
        and distance ``inf``.
        """
        with self._store_errors():
            if not self._owned:  # never trust rows of a collection this index did not write
                self._check_owner()
            rows = self._search_rows(queries, k, camids)
        if bool((rows >= len(self._gallery)).any()):
            raise VectorStoreError(
                f"Milvus collection {self.collection!r} at {self.uri!r} holds rows this index "
                "does not have: another process wrote to it. Search again after its save "
                "(Retriever.load), or give each writer its own collection."
            )
        return self._exact_order(queries, rows)

    def _search_rows(
        self, queries: torch.Tensor, k: int, camids: Sequence[int] | None
    ) -> torch.Tensor:
        expr = "" if camids is None else f"camid in {[int(c) for c in camids]}"
        params = self._search_params()
        rows = torch.full((len(queries), k), -1, dtype=torch.int64)
        per_request = SEARCH_BATCH
        if is_embedded(self.uri):  # milvus-lite's brute force (FLAT, and rows not yet
            # indexed) holds a [queries, rows, dim] array: bound it
            per_request = max(
                1, min(SEARCH_BATCH, FLAT_SEARCH_ELEMENTS // max(1, self._gallery.numel()))
            )
        for start in range(0, len(queries), per_request):
            batch = queries[start : start + per_request]
            answers = self._client.search(
                self.collection,
                data=[q.tolist() for q in batch],
                limit=k,
                filter=expr,
                search_params=params,
                output_fields=[],
            )
            for i, hits in enumerate(answers):
                found = [int(hit.id) for hit in hits][:k]
                rows[start + i, : len(found)] = torch.tensor(found, dtype=torch.int64)
        return rows

    def _exact_order(
        self, queries: torch.Tensor, rows: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Euclidean distances from the gallery's embeddings; order by (distance, row)."""
        missing = rows < 0
        neighbours = self._gallery[rows.clamp(min=0)]  # [Q, k, D]
        dist = (neighbours - queries.unsqueeze(1)).pow(2).sum(dim=2).sqrt()
        dist = dist.masked_fill(missing, math.inf)
        key_rows = rows.masked_fill(missing, torch.iinfo(torch.int64).max)
        order = key_rows.argsort(dim=1)  # rows ascending, then a stable sort by distance
        dist, rows = dist.gather(1, order), rows.gather(1, order)
        dist, order = dist.sort(dim=1, stable=True)
        return dist, rows.gather(1, order)

    def _write(
        self,
        embeddings: torch.Tensor,
        ids: torch.Tensor,
        camids: torch.Tensor | None,
        paths: list[str] | None,
        start: int,
    ) -> None:
        self._gallery = embeddings
        n = len(embeddings)
        if start == 0 or start != self._rows:
            self._digest = _RowsDigest()
            self._digest.update(embeddings, ids, camids, paths)
            self._check_owner()  # before trusting, dropping or writing to the collection
            if n and self._stored_fingerprint() == self._digest.fingerprint(n):
                self._client.load_collection(self.collection)  # reopened stores start released
                self._rows = n  # the store already holds these rows: reuse it
                return
            if self._client.has_collection(self.collection):
                self._client.drop_collection(self.collection)
            self._rows = start = 0
            if n == 0:
                return
            self._create(int(embeddings.shape[1]))
        else:
            self._digest.update(
                embeddings[start:],
                ids[start:],
                None if camids is None else camids[start:],
                None if paths is None else paths[start:],
            )
        array = embeddings.detach().cpu().numpy().astype(np.float32, copy=False)
        cams = None if camids is None else camids.tolist()
        id_list = ids.tolist()
        for lo in range(start, n, INSERT_BATCH):
            batch = [
                {
                    "row": row,
                    "vector": array[row],
                    "id": id_list[row],
                    "camid": -1 if cams is None else cams[row],
                    "path": "" if paths is None else paths[row],
                }
                for row in range(lo, min(n, lo + INSERT_BATCH))
            ]
            self._client.insert(self.collection, batch)
            self.inserted += len(batch)
        self._rows = n
        self._client.alter_collection_properties(
            self.collection, properties={FINGERPRINT_KEY: self._digest.fingerprint(n)}
        )

    def _create(self, dim: int) -> None:
        data_type = self._pymilvus.DataType
        schema = self._pymilvus.MilvusClient.create_schema(auto_id=False)
        schema.add_field("row", data_type.INT64, is_primary=True)
        schema.add_field("vector", data_type.FLOAT_VECTOR, dim=dim)
        schema.add_field("id", data_type.INT64)
        schema.add_field("camid", data_type.INT64)
        schema.add_field("path", data_type.VARCHAR, max_length=65535)
        index = self._client.prepare_index_params()
        opts, kind = self.options, _MILVUS_INDEX[self.index_kind]
        params: dict[str, int] = {}
        if self.index_kind == "ivf":
            params = {"nlist": opts.nlist or 1024}
        elif self.index_kind == "hnsw":
            params = {"M": opts.hnsw_m, "efConstruction": opts.ef_construction}
        index.add_index("vector", index_type=kind, metric_type="L2", params=params)
        self._client.create_collection(
            self.collection,
            schema=schema,
            index_params=index,
            consistency_level="Strong",
            properties={OWNER_KEY: self.owner},
        )
        self._owned = True

    def _check_owner(self) -> None:
        """Refuse a collection that exists but was not created for this index."""
        if not self._client.has_collection(self.collection):
            return
        properties = self._client.describe_collection(self.collection).get("properties", {})
        found = properties.get(OWNER_KEY)
        if found == self.owner:
            self._owned = True
            return
        raise VectorStoreError(not_owned(self.uri, self.collection, found, self.owner))

    @contextlib.contextmanager
    def _store_errors(self) -> Iterator[None]:
        """pymilvus and milvus-lite failures as one :class:`VectorStoreError` line."""
        failures: tuple[type[BaseException], ...] = (self._pymilvus.MilvusException,)
        lite = importlib.import_module("milvus_lite.exceptions") if is_embedded(self.uri) else None
        if lite is not None:
            failures += (lite.MilvusLiteError,)
        try:
            yield
        except failures as err:
            raise VectorStoreError(
                store_failure(self.uri, self.collection, err, self.options.timeout)
            ) from err

    def _search_params(self) -> dict[str, Any]:
        if self.index_kind == "ivf":
            nlist = self.options.nlist or 1024
            nprobe = self.options.nprobe or default_nprobe(nlist)
            return {"metric_type": "L2", "params": {"nprobe": nprobe}}
        if self.index_kind == "hnsw":
            return {"metric_type": "L2", "params": {"ef": self.options.ef_search}}
        return {"metric_type": "L2"}

    def _stored_fingerprint(self) -> str | None:
        if not self._client.has_collection(self.collection):
            return None
        properties = self._client.describe_collection(self.collection).get("properties", {})
        value = properties.get(FINGERPRINT_KEY)
        return None if value is None else str(value)


class _RowsDigest:
    """Digests of each column of the stored rows, extended as rows are appended."""

    def __init__(self) -> None:
        self._columns = [hashlib.blake2b(digest_size=16) for _ in range(4)]

    def update(
        self,
        embeddings: torch.Tensor,
        ids: torch.Tensor,
        camids: torch.Tensor | None,
        paths: Sequence[str] | None,
    ) -> None:
        for digest, column in zip(self._columns, (embeddings, ids, camids), strict=False):
            if column is not None:
                digest.update(np.ascontiguousarray(column.detach().cpu().numpy()).tobytes())
        for path in paths or []:
            self._columns[3].update(path.encode() + b"\0")

    def fingerprint(self, rows: int) -> str:
        """Row count and digests: equal only for the same rows in the same order."""
        return f"{rows}:" + "-".join(d.hexdigest() for d in self._columns)


def import_pymilvus(embedded: bool = True) -> Any:
    """The pymilvus module (and milvus-lite for an embedded store), or an ImportError naming the
    extra to install."""
    try:
        module = importlib.import_module("pymilvus")
        if embedded:
            importlib.import_module("milvus_lite")
    except ImportError as err:
        raise ImportError(
            "backend='milvus' needs pymilvus (and milvus-lite for an embedded store), which is "
            "not installed: run `pip install siamreid[milvus]`, or use backend='torch' or "
            "backend='faiss'."
        ) from err
    return module
