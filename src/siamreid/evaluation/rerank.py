"""k-reciprocal re-ranking (Zhong et al., CVPR 2017), from distance matrices or from features.

:func:`re_rank` gives the distances of the reference code that torchreid
(``torchreid.utils.rerank.re_ranking``) and fast-reid ship; :func:`re_rank_features` gives the
same distances straight from features, as if ``re_rank`` were given squared Euclidean distance
matrices of them (torchreid's default), without building any ``N x N`` matrix
(``N`` = queries + gallery).

Ties: neighbours at equal distance are ordered by index (queries first, then gallery), a stable
sort; the reference's ``np.argsort`` is unstable, so the two can differ only where distances tie.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch

from siamreid._checks import is_int
from siamreid.evaluation._features_knn import FeatureDistances, symmetric_neighbours
from siamreid.evaluation._inputs import (
    ArrayLike,
    as_feature_pair,
    check_chunk_size,
    shape_of,
)
from siamreid.evaluation._kreciprocal import F32, I64, dense_neighbours, k_reciprocal_rerank

__all__ = ["re_rank", "re_rank_features"]


def _check_params(k1: int, k2: int, lambda_value: float, chunk_size: int) -> None:
    for name, value in (("k1", k1), ("k2", k2)):
        if not is_int(value) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not 0.0 <= lambda_value <= 1.0:
        raise ValueError(f"lambda_value must be within [0, 1], got {lambda_value!r}")
    check_chunk_size(chunk_size)


def _as_matrix(x: ArrayLike, name: str, shape: tuple[int, int]) -> npt.NDArray[np.floating]:
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if arr.shape != shape:
        raise ValueError(
            f"{name} has shape {arr.shape}, expected {shape} from q_g's (num_query, num_gallery)"
        )
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    for start in range(0, shape[0], 1024):
        if not np.isfinite(arr[start : start + 1024]).all():
            raise ValueError(f"{name} has NaN or infinite distances; re-ranking needs finite ones")
    return arr


class _DenseSource:
    """Squared distances from the three matrices, as the reference's ``original_dist``."""

    def __init__(self, q_g: ArrayLike, q_q: ArrayLike, g_g: ArrayLike) -> None:
        shape = shape_of(q_g)
        if len(shape) != 2 or 0 in shape:
            raise ValueError(
                f"q_g must be a non-empty (num_query, num_gallery) matrix, got {shape}"
            )
        nq, ng = shape
        self.q_g = _as_matrix(q_g, "q_g", (nq, ng))
        self.q_q = _as_matrix(q_q, "q_q", (nq, nq))
        self.g_g = _as_matrix(g_g, "g_g", (ng, ng))
        self.dtype = np.result_type(self.q_g, self.q_q, self.g_g)
        self.num_query, self.num_items = nq, nq + ng

    def columns(self, start: int, stop: int) -> F32:
        q = self.num_query
        out = np.empty((stop - start, self.num_items), dtype=self.dtype)
        if start < q:  # columns of [q_q; q_g.T]
            e = min(stop, q)
            out[: e - start, :q] = self.q_q[:, start:e].T
            out[: e - start, q:] = self.q_g[start:e]
        if stop > q:  # columns of [q_g; g_g]
            s = max(start, q)
            out[s - start :, :q] = self.q_g[:, s - q : stop - q].T
            out[s - start :, q:] = self.g_g[:, s - q : stop - q].T
        np.square(out, out=out)
        return out.astype(np.float32, copy=False)

    def pairs(self, rows: I64, cols: I64) -> F32:
        q, out = self.num_query, np.empty(rows.size, dtype=self.dtype)
        a, b = cols, rows  # the entry P[a, b] of the block matrix
        for m, block, i, j in (
            ((a < q) & (b < q), self.q_q, a, b),
            ((a < q) & (b >= q), self.q_g, a, b - q),
            ((a >= q) & (b < q), self.q_g, b, a - q),
            ((a >= q) & (b >= q), self.g_g, a - q, b - q),
        ):
            out[m] = block[i[m], j[m]]
        return np.square(out).astype(np.float32, copy=False)


def re_rank(
    q_g: ArrayLike,
    q_q: ArrayLike,
    g_g: ArrayLike,
    k1: int = 20,
    k2: int = 6,
    lambda_value: float = 0.3,
    *,
    chunk_size: int = 256,
) -> npt.NDArray[np.float32]:
    """k-reciprocal re-ranked query x gallery distances, as the reference code computes them.

    The reference squares the distances it is given and normalises each column by its maximum;
    pass what torchreid passes (squared Euclidean distances) to reproduce its numbers.

    Args:
        q_g: ``(num_query, num_gallery)`` distances (numpy or torch).
        q_q: ``(num_query, num_query)`` distances.
        g_g: ``(num_gallery, num_gallery)`` distances.
        k1: Size of the k-reciprocal neighbourhoods.
        k2: Neighbours averaged in the local query expansion (1 disables it).
        lambda_value: Weight of the original distance against the Jaccard distance.
        chunk_size: Rows of the combined matrix processed at a time.

    Returns:
        Float32 ``(num_query, num_gallery)`` distances for :func:`evaluate_rank`.

    Raises:
        ValueError: Mismatched shapes, non-finite distances or bad parameters.

    Example:
        >>> final = re_rank(distmat, q_q, g_g, k1=20, k2=6, lambda_value=0.3)
        >>> metrics = evaluate_rank(final, q_pids, g_pids, q_camids, g_camids)
    """
    _check_params(k1, k2, lambda_value, chunk_size)
    source = _DenseSource(q_g, q_q, g_g)
    k = min(max(k1 + 1, k2), source.num_items)
    neighbours = dense_neighbours(source, k, chunk_size)
    return k_reciprocal_rerank(neighbours, source.pairs, k1, k2, lambda_value, chunk_size)


def re_rank_features(
    query_feats: ArrayLike,
    gallery_feats: ArrayLike,
    k1: int = 20,
    k2: int = 6,
    lambda_value: float = 0.3,
    chunk_size: int = 512,
) -> npt.NDArray[np.float32]:
    """:func:`re_rank` of the features' squared Euclidean distances, in memory linear in N.

    The ``N x N`` part (``N`` = queries + gallery) runs in torch on the features' device, a
    GPU when given CUDA tensors: ``chunk_size`` rows of the distance matrix at a time, each
    distance computed once, keeping only every item's nearest neighbours (``torch.topk``)
    and the query x gallery block. The sparse k-reciprocal steps that follow, linear in
    ``N``, run on the CPU; the result is a numpy array either way. Numpy features are used
    in place (no copy) as CPU tensors, in their own float precision.

    Args:
        query_feats: ``(num_query, dim)`` float features (numpy or torch, any device).
        gallery_feats: ``(num_gallery, dim)`` float features.
        k1: Size of the k-reciprocal neighbourhoods.
        k2: Neighbours averaged in the local query expansion (1 disables it).
        lambda_value: Weight of the original distance against the Jaccard distance.
        chunk_size: Distance rows computed at a time.

    Returns:
        Float32 ``(num_query, num_gallery)`` distances, equal (up to float rounding) to
        ``re_rank`` of the squared Euclidean distance matrices.

    Raises:
        ValueError: Bad shapes, non-finite features or bad parameters.

    Example:
        >>> final = re_rank_features(query_feats, gallery_feats)
        >>> metrics = evaluate_rank(final, q_pids, g_pids, q_camids, g_camids)
    """
    _check_params(k1, k2, lambda_value, chunk_size)
    query, gallery = as_feature_pair(query_feats, gallery_feats)
    common = torch.promote_types(query.dtype, gallery.dtype)
    dist = FeatureDistances(query.to(common), gallery.to(common))
    with torch.no_grad():
        k = min(max(k1 + 1, k2), dist.num_items)
        neighbours, pool = symmetric_neighbours(dist, k, chunk_size)
        return k_reciprocal_rerank(neighbours, pool.pairs, k1, k2, lambda_value, chunk_size)
