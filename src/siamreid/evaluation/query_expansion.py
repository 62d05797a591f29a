"""Alpha query expansion (AQE), as fast-reid's ``aqe`` with ``qe_times=1``.

Every feature (queries and gallery alike) is replaced by the mean of its ``k`` most
cosine-similar features among all of them (itself included), each weighted by
``similarity ** alpha`` (Radenovic et al., 2018). The features are averaged as given, not
normalised, exactly as fast-reid does. Ties at the k-th similarity go to the lower index.
"""

from __future__ import annotations

from typing import overload

import numpy as np
import numpy.typing as npt
import torch

from siamreid._checks import is_int
from siamreid.errors import InputError
from siamreid.evaluation._inputs import (
    ArrayLike,
    as_feature_pair,
    check_chunk_size,
)

__all__ = ["query_expansion"]


def _top_k_similar(sims: torch.Tensor, k: int) -> torch.Tensor:
    """Per row, the columns of the ``k`` largest entries, by (similarity desc, column asc)."""
    kk = min(k + 1, sims.shape[1])  # one extra to see whether the k-th value is tied outside
    values, cols = torch.topk(sims, kk, dim=1, largest=True, sorted=True)
    cols, order = torch.sort(cols, dim=1)  # column order first, then a stable sort by value
    values = torch.gather(values, 1, order)
    values, order = torch.sort(values, dim=1, descending=True, stable=True)
    cols = torch.gather(cols, 1, order)
    if kk > k:
        for r in torch.nonzero(values[:, k - 1] == values[:, k]).flatten().tolist():
            cols[r, :k] = torch.sort(sims[r], descending=True, stable=True).indices[:k]
    return cols[:, :k]


def _expand(feats: torch.Tensor, k: int, alpha: float, chunk_size: int) -> torch.Tensor:
    normed = torch.nn.functional.normalize(feats, dim=1)
    out = torch.empty_like(feats)
    with torch.no_grad():
        for start in range(0, feats.shape[0], chunk_size):
            sims = normed[start : start + chunk_size] @ normed.T
            cols = _top_k_similar(sims, k)
            weights = torch.gather(sims, 1, cols).pow(alpha)
            out[start : start + chunk_size] = (feats[cols] * weights[..., None]).mean(dim=1)
    return out


@overload
def query_expansion(
    query_feats: npt.NDArray[np.floating],
    gallery_feats: npt.NDArray[np.floating],
    k: int = ...,
    alpha: float = ...,
    *,
    chunk_size: int = ...,
) -> tuple[npt.NDArray[np.floating], npt.NDArray[np.floating]]: ...


@overload
def query_expansion(
    query_feats: torch.Tensor,
    gallery_feats: torch.Tensor,
    k: int = ...,
    alpha: float = ...,
    *,
    chunk_size: int = ...,
) -> tuple[torch.Tensor, torch.Tensor]: ...


def query_expansion(
    query_feats: ArrayLike,
    gallery_feats: ArrayLike,
    k: int = 5,
    alpha: float = 3.0,
    *,
    chunk_size: int = 1024,
) -> tuple[ArrayLike, ArrayLike]:
    """Alpha query expansion of query and gallery features together (fast-reid's AQE).

    Args:
        query_feats: ``(num_query, dim)`` features (numpy or torch, any device).
        gallery_feats: ``(num_gallery, dim)`` features, same kind as ``query_feats``.
        k: Neighbours averaged, the feature itself included.
        alpha: Exponent of the cosine-similarity weights (fast-reid: 3.0). With a
            non-integer alpha, negative similarities give NaN, as in fast-reid.
        chunk_size: Rows of the similarity matrix computed at a time.

    Returns:
        The expanded ``(query, gallery)`` features, numpy or torch like the inputs.

    Raises:
        ValueError: Bad shapes, non-finite features, mixed numpy/torch, or ``k`` outside
            ``[1, num_query + num_gallery]``.

    Example:
        >>> qf, gf = query_expansion(qf, gf, k=5, alpha=3.0)
        >>> metrics = evaluate_features(qf, gf, q_pids, g_pids, metric="cosine")
    """
    if isinstance(query_feats, torch.Tensor) != isinstance(gallery_feats, torch.Tensor):
        raise InputError("pass query_feats and gallery_feats both as numpy or both as torch")
    check_chunk_size(chunk_size)
    query, gallery = as_feature_pair(query_feats, gallery_feats)
    feats = torch.cat([query, gallery.to(query.dtype)])
    if not is_int(k) or not 1 <= k <= feats.shape[0]:
        raise InputError(f"k must be an int within [1, {feats.shape[0]}] (all features), got {k!r}")
    k = int(k)
    out = _expand(feats, k, float(alpha), chunk_size)
    q_out, g_out = out[: query.shape[0]], out[query.shape[0] :]
    if isinstance(query_feats, torch.Tensor):
        return q_out, g_out
    return q_out.numpy(), g_out.numpy()
