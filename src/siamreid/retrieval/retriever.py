"""Retriever: a searchable gallery of person embeddings, with ids, cameras and image paths."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np
import torch

from siamreid._checks import is_int
from siamreid.errors import ConfigError, IndexFormatError, InputError
from siamreid.retrieval.backends import (
    BackendName,
    IndexKind,
    IndexOptions,
    Metric,
    RowStoreBackend,
    SearchBackend,
    TorchBackend,
    create_backend,
)
from siamreid.retrieval.backends.options import new_index_id, unconfirmed_store
from siamreid.retrieval.bundle.layout import opens_inside
from siamreid.retrieval.bundle.storage import (
    IndexMeta,
    ModelLoader,
    StoredIndex,
    read_index,
    write_index,
)
from siamreid.retrieval.embedders import Embedder, check_embedder, weights_digest
from siamreid.retrieval.gallery import Gallery, int_vector
from siamreid.retrieval.results import SearchResult, gather_result
from siamreid.typing import METRICS, ImageInput, Labels

__all__ = ["Retriever"]


class Retriever:
    """A gallery of embeddings with integer ids, searchable by Euclidean or cosine distance.

    Embeddings are the source of truth: the search index is derived from them (lazily, at the
    next search) and rebuilt after :meth:`remove`, so every backend stays exact to what was
    added. A gallery holds many entries per id (one per image of a person).

    Args:
        embedder: Model used to embed images passed to :meth:`add` and :meth:`search`;
            without one, only embeddings are accepted.
        backend: ``"torch"`` (exact brute force) or ``"faiss"`` (``pip install siamreid[faiss]``).
        index: ``"flat"`` (exact), ``"ivf"`` or ``"hnsw"`` (approximate, faiss only).
        metric: ``"euclidean"``, or ``"cosine"`` (embeddings are L2-normalised when added and
            searched; distances stay Euclidean between the unit vectors).
        options: Index tuning (IVF lists and probes, HNSW parameters, torch chunk size; the
            Milvus store's ``uri`` and ``collection``).
        names: Names of the ids (``{7: "alice"}``), saved with the index.

    Attributes:
        index_id: This index's identity (32 hex digits), saved in its bundle: a Milvus
            collection is named after it and marked with it, and only an index of the same
            identity writes to or searches that collection.

    Example:
        >>> retriever = Retriever()
        >>> retriever.add(torch.eye(4), ids=[7, 7, 8, 9])
        >>> retriever.search(torch.eye(4)[2:3], k=2).ids.tolist()
        [[8, 7]]
    """

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        backend: BackendName = "torch",
        index: IndexKind = "flat",
        metric: Metric = "euclidean",
        options: IndexOptions | None = None,
        names: dict[int, str] | None = None,
    ) -> None:
        if metric not in METRICS:
            raise ConfigError(f"Unknown metric {metric!r}; expected one of {list(METRICS)}.")
        if embedder is not None and not isinstance(embedder, Embedder):
            raise ConfigError(
                f"embedder {type(embedder).__name__} lacks embed(), embedding_dim or "
                "backbone_name; pass a SiameseEmbedder, or None and add embeddings."
            )
        self._embedder = embedder
        self.backend_name: BackendName = backend
        self.index_kind: IndexKind = index
        self.metric: Metric = metric
        self.options = options or IndexOptions()
        self.index_id = new_index_id()
        self._backend: SearchBackend = create_backend(
            backend, index, self.options, owner=self.index_id
        )
        self._gallery = Gallery(None if embedder is None else embedder.embedding_dim)
        self._embedder_name = None if embedder is None else embedder.backbone_name
        # the digest of the model the stored embeddings came from, when it is not the embedder
        # (a loaded index); the embedder's own is computed when saving
        self._embedder_digest: str | None = None
        self.names: dict[int, str] | None = dict(names) if names else None
        self._indexed = 0  # gallery rows the backend holds, in order; 0 after removals
        self._paths_root: Path | None = None  # a loaded bundle's folder (see may_open)

    def __len__(self) -> int:
        return len(self._gallery)

    def __repr__(self) -> str:
        return (
            f"Retriever(entries={len(self)}, dim={self.embedding_dim}, backend="
            f"{self.backend_name!r}, index={self.index_kind!r}, metric={self.metric!r})"
        )

    @property
    def embedder(self) -> Embedder | None:
        """The model that embeds images, if any."""
        return self._embedder

    @property
    def embedding_dim(self) -> int | None:
        """Embedding width (``None`` until known from the embedder or the first add)."""
        return self._gallery.dim

    @property
    def embeddings(self) -> torch.Tensor:
        """The indexed ``[N, D]`` embeddings (unit-normalised for ``metric="cosine"``)."""
        return self._gallery.embeddings

    @property
    def ids(self) -> torch.Tensor:
        """The ``[N]`` ids, in gallery order."""
        return self._gallery.ids

    def add(
        self,
        items: ImageInput | Labels,
        ids: Labels,
        camids: Labels | None = None,
        paths: Sequence[str | os.PathLike[str]] | None = None,
        *,
        batch_size: int = 64,
    ) -> None:
        """Append entries: embeddings, or images embedded with the retriever's embedder.

        Args:
            items: A float ``[N, D]`` (or ``[D]``) tensor/array of embeddings; or images: paths,
                PIL images, uint8 HWC arrays, a sequence of those, or a preprocessed
                ``[N, 3, H, W]`` tensor.
            ids: ``N`` integer ids (duplicates welcome).
            camids: ``N`` integer camera ids, or ``None``.
            paths: ``N`` image paths, or ``None``; for images given as paths it defaults to them.
            batch_size: Images per forward pass of the embedder.

        Raises:
            IndexFormatError: Embeddings of another width than the gallery's.
            ConfigError: Images without an embedder.
            ValueError: Lengths differ, ids are not integers, embeddings are not finite, or
                (``metric="cosine"``) a row is all zeros.

        Example:
            >>> retriever = Retriever()
            >>> retriever.add(torch.randn(3, 8), ids=[1, 1, 2])
        """
        if paths is None:
            paths = _path_list(items)
        embeddings = self._to_embeddings(items, "items", batch_size)
        self._gallery.append(embeddings, ids, camids, paths)

    def remove(self, ids: Labels) -> int:
        """Remove every entry whose id is in ``ids``; returns how many were removed.

        Example:
            >>> retriever = Retriever()
            >>> retriever.add(torch.randn(3, 8), ids=[1, 1, 2])
            >>> retriever.remove([1])
            2
        """
        removed = self._gallery.remove(ids)
        if removed:
            self._indexed = 0
        return removed

    def build(self) -> None:
        """Rebuild the search index from the stored embeddings now (else: at the next search)."""
        self._indexed = 0
        self._sync()

    def search(
        self,
        queries: ImageInput | Labels,
        k: int = 10,
        *,
        batch_size: int = 64,
        camids: Labels | None = None,
    ) -> SearchResult:
        """The ``k`` nearest gallery entries of each query (``k`` clamped to the gallery size).

        Args:
            queries: Embeddings ``[Q, D]`` / ``[D]``, or images (as for :meth:`add`).
            k: Neighbours per query.
            batch_size: Images per forward pass of the embedder.
            camids: Search only the entries of these cameras (exactly, whatever the index;
                ``backend="milvus"`` filters in the database). Slots beyond the matching
                entries hold index ``-1``.

        Raises:
            IndexFormatError: The queries' width differs from the gallery's (both are named).
            ValueError: ``camids`` given for a gallery without camera ids.

        Example:
            >>> retriever = Retriever()
            >>> retriever.add(torch.eye(3), ids=[10, 11, 12])
            >>> retriever.search(torch.eye(3)[1], k=1).ids.tolist()
            [[11]]
        """
        if not is_int(k) or k < 1:
            raise InputError(f"k must be a positive integer, got {k!r}.")
        k = int(k)
        query_emb = self._to_embeddings(queries, "queries", batch_size)
        k = min(k, len(self))
        if k == 0:
            empty = torch.empty(len(query_emb), 0)
            return gather_result(self._gallery, empty, empty.long())
        self._sync()
        if camids is None:
            distances, indices = self._backend.search(query_emb, k)
        else:
            cameras = int_vector(camids, "camids", None)
            distances, indices = self._search_cameras(query_emb, k, cameras)
        return gather_result(self._gallery, distances, indices)

    def _search_cameras(
        self, queries: torch.Tensor, k: int, cameras: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        gallery_cams = self._gallery.camids
        if gallery_cams is None:
            raise InputError(
                "camids filters by camera, but this gallery has no camera ids; add entries "
                "with camids=..., or search without camids."
            )
        if isinstance(self._backend, RowStoreBackend):
            return self._backend.search(queries, k, cameras.tolist())
        rows = torch.isin(gallery_cams, cameras).nonzero().flatten()
        distances = torch.full((len(queries), k), math.inf)
        indices = torch.full((len(queries), k), -1, dtype=torch.int64)
        if len(rows):
            subset = TorchBackend(self.options)  # exact on the matching rows
            subset.sync(self._gallery.embeddings[rows], start=0)
            found = min(k, len(rows))
            dist, idx = subset.search(queries, found)
            distances[:, :found], indices[:, :found] = dist, rows[idx]
        return distances, indices

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Save the index bundle to ``directory``; returns its path.

        The bundle holds the embeddings, ids, cameras and paths, the id :attr:`names`, a copy of
        the embedder when it can save itself (``save_pretrained``), and ``meta.json`` with the
        embedder's name and weights digest (see :mod:`siamreid.retrieval.bundle.storage`).
        Saving onto an existing bundle updates it in place: a failed or killed save leaves the
        previous version readable, a reader never fails because a save is under way, and files
        the bundle does not own are never deleted. Without an embedder, the bundle's model copy is
        kept if it is the model the embeddings came from.

        Raises:
            IndexFormatError: ``directory`` is not a bundle, or another process saves into it.

        Example:
            >>> retriever.save("gallery_index")  # doctest: +SKIP
        """
        digest = weights_digest(self._embedder) or self._embedder_digest
        meta = IndexMeta(
            embedder=self._embedder_name,
            embedding_dim=self.embedding_dim,
            metric=self.metric,
            backend=self.backend_name,
            index=self.index_kind,
            options=self.options.to_dict(),
            embedder_digest=digest,
            index_id=self.index_id,
        )
        saver = getattr(self._embedder, "save_pretrained", None)
        return write_index(
            Path(directory),
            self._gallery,
            meta,
            names=self.names,
            save_model=None if saver is None else (lambda folder: saver(folder)),
        )

    @classmethod
    def load(
        cls,
        directory: str | os.PathLike[str],
        embedder: Embedder | None = None,
        *,
        backend: BackendName | None = None,
        index: IndexKind | None = None,
        options: IndexOptions | None = None,
        load_model: ModelLoader | None = None,
        allow_other_model: bool = False,
        allow_outside_paths: bool = False,
    ) -> Retriever:
        """Read an index bundle written by :meth:`save`, checking every file and field.

        Args:
            directory: The saved index folder.
            embedder: Model for image queries; must be the model that built the index (same
                name, width and weights digest).
            backend: Override the saved backend (e.g. ``"torch"`` where faiss is missing).
            index: Override the saved index kind.
            options: Override the saved index options. A Milvus bundle's saved ``uri`` is only
                a hint: without ``options`` naming it, the index is searched in a temporary
                embedded store (with a warning), never in the store the file names.
            load_model: Without ``embedder``: loads the bundle's model copy from its folder
                (``siamreid.models.load_pretrained``) and uses it as the embedder.
            allow_other_model: Accept an embedder whose weights differ from the index's model
                (its embeddings are then not comparable to the gallery's: only for models known
                to be equivalent).
            allow_outside_paths: Let :meth:`may_open` accept gallery paths that lie outside
                ``directory`` (absolute, ``..``, links out). By default they are kept and
                returned by searches, but callers that open images (``search --plot``) leave
                them closed: anyone can rewrite a bundle's ``paths.json``.

        Raises:
            IndexFormatError: Missing, corrupt, foreign or newer-version files (the file and
                field are named), or an embedder that is not the index's model.

        Example:
            >>> retriever = Retriever.load("gallery_index", embedder=model)  # doctest: +SKIP
        """
        loader = load_model if embedder is None else None  # a given embedder wins over the copy
        stored = read_index(Path(directory), load_model=loader)
        meta = stored.meta
        embedder = embedder if embedder is not None else stored.model
        check_embedder(embedder, meta, Path(directory), allow_other_model)
        chosen: str = backend or meta.backend
        retriever = cls(
            embedder,
            backend=chosen,  # type: ignore[arg-type]
            index=index or meta.index,  # type: ignore[arg-type]
            metric=meta.metric,  # type: ignore[arg-type]
            options=options or unconfirmed_store(meta.options, chosen, Path(directory)),
            names=stored.names,
        )
        retriever._adopt(stored)
        retriever._paths_root = None if allow_outside_paths else Path(directory)
        return retriever

    def may_open(self, path: str) -> bool:
        """Whether a gallery ``path`` may be opened: always, unless it came from a bundle
        folder it lies outside of (see ``allow_outside_paths`` of :meth:`load`)."""
        return self._paths_root is None or opens_inside(path, self._paths_root)

    def _adopt(self, stored: StoredIndex) -> None:
        """Take a read bundle's gallery and the record of the model its embeddings came from."""
        gallery = stored.gallery
        gallery.dim = gallery.dim or self.embedding_dim
        self._gallery = gallery
        self._embedder_name = stored.meta.embedder or self._embedder_name
        self._embedder_digest = stored.meta.embedder_digest
        if stored.meta.index_id is not None:  # the same index: its own Milvus collection
            self.index_id = stored.meta.index_id
            adopt = getattr(self._backend, "adopt", None)
            if adopt is not None:
                adopt(self.index_id)

    def _sync(self) -> None:
        if self._indexed != len(self):
            if isinstance(self._backend, RowStoreBackend):  # keeps ids, cameras and paths too
                self._backend.sync_rows(self._gallery, self._indexed)
            else:
                self._backend.sync(self._gallery.embeddings, self._indexed)
            self._indexed = len(self)

    def _to_embeddings(self, items: object, name: str, batch_size: int) -> torch.Tensor:
        if _looks_like_embeddings(items):
            # a copy: the gallery must not change when the caller reuses their buffer
            emb = torch.as_tensor(items).detach().to("cpu", torch.float32, copy=True)
            emb = emb.reshape(1, -1) if emb.dim() < 2 else emb
        elif self._embedder is None:
            raise ConfigError(
                f"{name} look like images, but this Retriever has no embedder to embed them; "
                "pass embeddings (a float [N, D] tensor or array) or create "
                "Retriever(embedder=model)."
            )
        else:
            images = cast("ImageInput", items)
            emb = self._embedder.embed(images, batch_size=batch_size).to("cpu", torch.float32)
        dim = self.embedding_dim
        if emb.dim() != 2 or emb.shape[1] == 0:
            raise InputError(
                f"{name} must be [N, D] embeddings with D >= 1, got {tuple(emb.shape)}."
            )
        if dim is not None and emb.shape[1] != dim:
            raise IndexFormatError(
                f"{name} have dimension {emb.shape[1]}, but the index holds dimension-{dim} "
                "embeddings; embed them with the model that built the index."
            )
        if not bool(torch.isfinite(emb).all()):
            raise InputError(f"{name} contain NaN or infinite values; check the embedder's output.")
        if self.metric != "cosine":
            return emb
        _refuse_directionless(emb, name)
        return torch.nn.functional.normalize(emb, dim=1)


def _refuse_directionless(emb: torch.Tensor, name: str) -> None:
    """Cosine distance needs a direction: an all-zero row would match another at distance 0."""
    zero = (emb.norm(dim=1) < 1e-12).nonzero().flatten().tolist()  # F.normalize's eps
    if zero:
        shown = ", ".join(map(str, zero[:10])) + (", ..." if len(zero) > 10 else "")
        raise InputError(
            f"{name} rows [{shown}] ({len(zero)} of {len(emb)}) are all-zero embeddings, which "
            "have no direction for metric='cosine' (each would match another at distance 0); "
            "drop them, or check the embedder's output."
        )


def _looks_like_embeddings(items: object) -> bool:
    """1-D and 2-D tensors and arrays are embeddings; the rest are images."""
    if isinstance(items, torch.Tensor):
        return items.dim() <= 2
    return isinstance(items, np.ndarray) and items.ndim <= 2


def _path_list(items: object) -> list[str] | None:
    """The paths of images given as a non-empty sequence of paths, else ``None``."""
    if isinstance(items, (str, os.PathLike)):
        return [os.fspath(items)]
    if not isinstance(items, Sequence) or not items:
        return None
    paths = [os.fspath(p) for p in items if isinstance(p, (str, os.PathLike))]
    return paths if len(paths) == len(items) else None
