"""Input checks shared by the evaluation functions: numpy or torch in, numpy out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import torch

from siamreid._checks import INT64_MAX, is_int
from siamreid.errors import InputError
from siamreid.typing import ArrayLike

__all__ = [
    "ArrayLike",
    "FloatArray",
    "IntArray",
    "as_features",
    "as_ids",
    "check_chunk_size",
    "float_rows",
    "shape_of",
]

FloatArray: TypeAlias = "npt.NDArray[np.floating[Any]]"
IntArray: TypeAlias = "npt.NDArray[np.int64]"


def shape_of(x: ArrayLike) -> tuple[int, ...]:
    """The shape of a numpy array or torch tensor as a plain tuple."""
    return tuple(int(n) for n in x.shape)


def _to_numpy(x: ArrayLike | Sequence[int]) -> npt.NDArray[Any]:
    if isinstance(x, torch.Tensor):
        x = x.detach()
        if x.dtype in (torch.float16, torch.bfloat16):
            x = x.float()
        return x.cpu().numpy()
    return np.asarray(x)


def as_ids(
    values: ArrayLike | Sequence[int], name: str, length: int, what: str
) -> npt.NDArray[np.int64]:
    """Identity or camera labels as a 1-D int64 array of ``length`` entries.

    Args:
        values: Labels (numpy array, torch tensor or sequence of ints).
        name: Argument name used in error messages.
        length: Expected number of entries.
        what: What ``length`` counts, for the error message (e.g. "distmat has 5 rows").

    Raises:
        ValueError: The labels are not 1-D integers or do not have ``length`` entries.
    """
    arr = _to_numpy(values)
    if arr.ndim != 1:
        raise InputError(f"{name} must be 1-D, got shape {arr.shape}; pass one label per item")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"{name} must hold integers, got dtype {arr.dtype}; cast it to int64")
    if arr.shape[0] != length:
        raise InputError(
            f"{name} has {arr.shape[0]} entries but {what}; pass one label per item, in order"
        )
    if arr.size and arr.dtype.kind == "u" and int(arr.max()) > INT64_MAX:
        raise InputError(
            f"{name} holds {int(arr.max())}, outside the int64 range labels are compared in; "
            "map large labels into it"
        )
    return arr.astype(np.int64, copy=False)


def float_rows(matrix: ArrayLike, start: int, stop: int) -> FloatArray:
    """Rows ``start:stop`` of a 2-D matrix as a float32/float64 numpy array (a view if possible)."""
    rows = _to_numpy(matrix[start:stop])
    if rows.dtype == np.float64:
        return rows
    return rows.astype(np.float32, copy=False)


def as_features(x: ArrayLike, name: str) -> torch.Tensor:
    """A 2-D float feature matrix as a torch tensor on its own device (numpy: zero-copy on CPU).

    Raises:
        ValueError: ``x`` is not a non-empty 2-D float matrix, or holds NaN or infinity.
    """
    t = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))
    t = t.detach()
    if t.ndim != 2 or t.shape[0] == 0 or t.shape[1] == 0:
        raise InputError(
            f"{name} must be a non-empty 2-D (items, dims) matrix, got shape {tuple(t.shape)}"
        )
    if not t.is_floating_point():
        raise InputError(f"{name} must hold floats, got dtype {t.dtype}; cast it to float32")
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    if not bool(torch.isfinite(t).all()):
        bad = int(torch.nonzero(~torch.isfinite(t).all(dim=1))[0, 0])
        raise InputError(
            f"{name} has NaN or infinite values (first in row {bad}); fix the features"
        )
    return t


def check_chunk_size(chunk_size: int) -> None:
    """Raise ValueError unless ``chunk_size`` is a positive int."""
    if not is_int(chunk_size) or chunk_size < 1:
        raise InputError(f"chunk_size must be a positive int, got {chunk_size!r}")


def as_feature_pair(
    query_feats: ArrayLike, gallery_feats: ArrayLike
) -> tuple[torch.Tensor, torch.Tensor]:
    """Query and gallery features as tensors of the same width on the same device.

    Raises:
        ValueError: Either matrix is malformed, or their widths or devices differ.
    """
    query = as_features(query_feats, "query_feats")
    gallery = as_features(gallery_feats, "gallery_feats")
    if query.shape[1] != gallery.shape[1] or query.device != gallery.device:
        raise InputError(
            f"query_feats {tuple(query.shape)} on {query.device} and gallery_feats "
            f"{tuple(gallery.shape)} on {gallery.device} must share width and device"
        )
    return query, gallery
