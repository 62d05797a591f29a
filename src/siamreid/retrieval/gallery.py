"""The gallery's columns: embeddings, ids, camera ids and paths, appended in batches."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from siamreid._checks import int64_array
from siamreid.errors import InputError

__all__ = ["Gallery", "int_vector"]


class Gallery:
    """Column store of the gallery; appends are batched and joined on first read."""

    def __init__(self, dim: int | None) -> None:
        self.dim = dim
        self._emb: list[torch.Tensor] = []
        self._ids: list[torch.Tensor] = []
        self._cams: list[torch.Tensor] | None = None  # None: the gallery has no camera ids
        self.paths: list[str] | None = None  # None: the gallery has no paths

    def __len__(self) -> int:
        return sum(len(block) for block in self._ids)

    @property
    def embeddings(self) -> torch.Tensor:
        """``[N, D]`` float32 embeddings."""
        self._emb = _joined(self._emb)
        return self._emb[0] if self._emb else torch.empty(0, self.dim or 0)

    @property
    def ids(self) -> torch.Tensor:
        """``[N]`` int64 ids."""
        self._ids = _joined(self._ids)
        return self._ids[0] if self._ids else torch.empty(0, dtype=torch.int64)

    @property
    def camids(self) -> torch.Tensor | None:
        """``[N]`` int64 camera ids, or ``None``."""
        if self._cams is None:
            return None
        self._cams = _joined(self._cams)
        return self._cams[0] if self._cams else torch.empty(0, dtype=torch.int64)

    def append(
        self,
        embeddings: torch.Tensor,
        ids: object,
        camids: object | None,
        paths: Sequence[str | os.PathLike[str]] | None,
    ) -> None:
        """Add ``N`` rows; every argument is checked before anything changes."""
        n = len(embeddings)
        id_vec = int_vector(ids, "ids", n, stored=True)
        cam_vec = None if camids is None else int_vector(camids, "camids", n, stored=True)
        path_list = None if paths is None else [os.fspath(p) for p in paths]
        if path_list is not None and len(path_list) != n:
            raise InputError(f"paths has {len(path_list)} entries for {n} embeddings.")
        if len(self):
            _check_same_columns("camids", self._cams is not None, cam_vec is not None, len(self))
            _check_same_columns("paths", self.paths is not None, path_list is not None, len(self))
        else:
            self._cams = None if cam_vec is None else []
            self.paths = None if path_list is None else []
        self.dim = int(embeddings.shape[1])
        self._emb.append(embeddings)
        self._ids.append(id_vec)
        if self._cams is not None and cam_vec is not None:
            self._cams.append(cam_vec)
        if self.paths is not None and path_list is not None:
            self.paths.extend(path_list)

    def remove(self, ids: object) -> int:
        """Drop every row whose id is in ``ids``; returns the number dropped."""
        targets = int_vector(ids, "ids", None)
        keep = ~torch.isin(self.ids, targets)
        removed = int((~keep).sum())
        if removed:
            self._emb = [self.embeddings[keep]]
            self._ids = [self.ids[keep]]
            camids = self.camids
            self._cams = None if camids is None else [camids[keep]]
            if self.paths is not None:
                self.paths = [p for p, k in zip(self.paths, keep.tolist(), strict=True) if k]
        return removed


def int_vector(
    values: object, name: str, length: int | None, *, stored: bool = False
) -> torch.Tensor:
    """``values`` as a 1-D int64 tensor of ``length`` entries, or a ValueError naming ``name``.

    Python and NumPy integers are accepted alike; values outside int64 are refused rather than
    wrapped. With ``stored=True`` (ids and camera ids added to a gallery) ``-1`` is refused
    too: it marks the empty slots of a :class:`~siamreid.retrieval.SearchResult`.
    """
    array = int64_array(values, name)
    if array.ndim != 1 or (length is not None and len(array) != length):
        raise InputError(
            f"{name} must be a 1-D sequence of {length if length is not None else 'any number of'}"
            f" integers, got shape {array.shape}."
        )
    if stored and bool((array == -1).any()):
        raise InputError(
            f"{name} holds -1, which search results use for an empty slot (fewer matches than "
            "k); give that entry another id."
        )
    return torch.from_numpy(array)


def _check_same_columns(name: str, have: bool, given: bool, count: int) -> None:
    if have and not given:
        raise InputError(f"The gallery's {count} entries have {name}; pass {name} for these too.")
    if given and not have:
        raise InputError(
            f"The gallery's {count} entries have no {name}; add these without {name}, or add "
            f"{name} for every entry (rebuild the gallery)."
        )


def _joined(blocks: list[torch.Tensor]) -> list[torch.Tensor]:
    return [torch.cat(blocks)] if len(blocks) > 1 else blocks
