"""Market-1501 ranking metrics (CMC, mAP, mINP) from a distance matrix or from features.

The protocol is torchreid's ``eval_market1501`` (also fast-reid's ``evaluate_cy``): for each
query, gallery items with the query's identity *and* camera are removed; queries left with no
true match are skipped; the CMC curve and mAP are averaged over the remaining queries; mINP is
the mean of ``num_matches / (rank_of_hardest_match + 1)``. When the removal leaves a query
fewer than ``max_rank`` valid items, its CMC stays at 1 past them (torchreid's arrays would be
ragged there).

Ties: gallery items are ranked by distance, equal distances by gallery index (a stable sort).
torchreid and fast-reid call ``np.argsort`` with its default, unstable sort; both agree with us
whenever no true match shares its distance with a non-match.

No row is ever sorted: a query's AP, CMC and INP depend only on where its true matches land
among the valid gallery items, so only the items closer than its hardest match are counted.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from siamreid._checks import is_int
from siamreid.errors import InputError
from siamreid.evaluation._inputs import (
    ArrayLike,
    FloatArray,
    IntArray,
    as_feature_pair,
    as_ids,
    check_chunk_size,
    float_rows,
    shape_of,
)
from siamreid.evaluation._ranking import Gallery, match_ranks, true_matches
from siamreid.typing import Metric

__all__ = ["RankMetrics", "evaluate_features", "evaluate_rank"]

# Distances below -_NEGATIVE are not rounding (squared-distance expansions and 1 - cos dip
# to about -1e-6 in float32): the matrix holds similarities.
_NEGATIVE = 1e-3


@dataclass(frozen=True, eq=False)
class RankMetrics:
    """Retrieval metrics of one evaluation, averaged over the valid queries.

    Attributes:
        cmc: Cumulative match characteristic, ``cmc[k - 1]`` = Rank-k accuracy (float64, read-only).
        mAP: Mean average precision.
        mINP: Mean inverse negative penalty (Ye et al., 2021).
        num_valid_queries: Queries with at least one true match left in the gallery.
        all_ap: Average precision of each valid query, in query order (float64, read-only).
    """

    cmc: npt.NDArray[np.float64]
    mAP: float  # noqa: N815 (the name every re-id paper uses)
    mINP: float  # noqa: N815
    num_valid_queries: int
    all_ap: npt.NDArray[np.float64]

    def __post_init__(self) -> None:
        cmc = np.array(self.cmc, dtype=np.float64)
        all_ap = np.array(self.all_ap, dtype=np.float64)
        if cmc.ndim != 1 or cmc.size == 0:
            raise InputError(f"RankMetrics.cmc must be a non-empty 1-D array, got {cmc.shape}")
        if np.any(cmc < 0) or np.any(cmc > 1) or np.any(np.diff(cmc) < 0):
            raise InputError("RankMetrics.cmc must be non-decreasing and within [0, 1]")
        for field_name in ("mAP", "mINP"):
            value = getattr(self, field_name)
            if not 0.0 <= value <= 1.0:
                raise InputError(f"RankMetrics.{field_name} must be within [0, 1], got {value}")
        if self.num_valid_queries < 1 or all_ap.shape != (self.num_valid_queries,):
            raise InputError(
                f"RankMetrics.all_ap must have num_valid_queries={self.num_valid_queries} "
                f"entries (at least 1), got shape {all_ap.shape}"
            )
        cmc.flags.writeable = False
        all_ap.flags.writeable = False
        object.__setattr__(self, "cmc", cmc)
        object.__setattr__(self, "all_ap", all_ap)
        object.__setattr__(self, "mAP", float(self.mAP))
        object.__setattr__(self, "mINP", float(self.mINP))

    @property
    def max_rank(self) -> int:
        """The last rank the CMC curve covers."""
        return int(self.cmc.size)

    def rank(self, k: int) -> float:
        """Rank-k accuracy: the fraction of valid queries with a true match in the top ``k``."""
        if not 1 <= k <= self.max_rank:
            raise InputError(f"k must be within [1, {self.max_rank}] (max_rank), got {k}")
        return float(self.cmc[k - 1])

    @property
    def rank1(self) -> float:
        """Rank-1 accuracy."""
        return self.rank(1)

    def to_dict(self) -> dict[str, float]:
        """``rank1``, ``rank5``, ``rank10`` (those within max_rank), ``mAP`` and ``mINP``."""
        out = {f"rank{k}": self.rank(k) for k in (1, 5, 10) if k <= self.max_rank}
        out["mAP"] = self.mAP
        out["mINP"] = self.mINP
        return out


class _Accumulator:
    """Collects per-query ranks and turns them into :class:`RankMetrics`."""

    def __init__(self, max_rank: int) -> None:
        self.max_rank = max_rank
        self.first: list[int] = []
        self.ap: list[float] = []
        self.inp: list[float] = []

    def add(self, ranks: IntArray) -> None:
        n = ranks.size
        self.first.append(int(ranks[0]))
        self.ap.append(float(np.mean(np.arange(1, n + 1) / (ranks + 1.0))))
        self.inp.append(n / (float(ranks[-1]) + 1.0))

    def result(self, num_queries: int) -> RankMetrics:
        num_valid = len(self.ap)
        if num_valid == 0:
            raise InputError(
                f"no valid query: none of the {num_queries} queries has a true match left in the "
                "gallery after removing same-identity same-camera items; check that q_pids and "
                "g_pids use the same identity numbers"
            )
        first = np.minimum(np.asarray(self.first), self.max_rank)
        hits = np.bincount(first, minlength=self.max_rank + 1)[: self.max_rank]
        return RankMetrics(
            cmc=np.cumsum(hits) / num_valid,
            mAP=float(np.mean(self.ap)),
            mINP=float(np.mean(self.inp)),
            num_valid_queries=num_valid,
            all_ap=np.asarray(self.ap),
        )


def _check_max_rank(max_rank: int, num_gallery: int) -> int:
    if not is_int(max_rank) or max_rank < 1:
        raise InputError(f"max_rank must be a positive int, got {max_rank!r}")
    max_rank = int(max_rank)
    if max_rank > num_gallery:
        warnings.warn(
            f"max_rank={max_rank} exceeds the {num_gallery} gallery items; using {num_gallery}",
            UserWarning,
            stacklevel=3,
        )
        return num_gallery
    return max_rank


def _labels(
    num_q: int,
    num_g: int,
    pids: tuple[ArrayLike, ArrayLike],
    camids: tuple[ArrayLike | None, ArrayLike | None],
    source: str,
    exclude_self: bool,
) -> tuple[IntArray, IntArray, IntArray | None, IntArray | None]:
    """Validated query/gallery pids and camids (camids both ``None`` or both given)."""
    q_pids = as_ids(pids[0], "q_pids", num_q, f"{source} has {num_q} queries")
    g_pids = as_ids(pids[1], "g_pids", num_g, f"{source} has {num_g} gallery items")
    if (camids[0] is None) != (camids[1] is None):
        raise InputError("pass both q_camids and g_camids, or neither (no camera rule)")
    q_cams = g_cams = None
    if camids[0] is not None and camids[1] is not None:
        q_cams = as_ids(camids[0], "q_camids", num_q, f"{source} has {num_q} queries")
        g_cams = as_ids(camids[1], "g_camids", num_g, f"{source} has {num_g} gallery items")
    if exclude_self:
        same_cams = q_cams is None or np.array_equal(q_cams, g_cams)  # type: ignore[arg-type]
        if num_q != num_g or not np.array_equal(q_pids, g_pids) or not same_cams:
            raise InputError(
                f"exclude_self=True needs the query set to be the gallery ({source} is "
                f"{num_q}x{num_g}; q_pids/q_camids must equal g_pids/g_camids)"
            )
    return q_pids, g_pids, q_cams, g_cams


def _evaluate_chunks(
    chunks: Iterator[tuple[int, FloatArray]],
    labels: tuple[IntArray, IntArray, IntArray | None, IntArray | None],
    max_rank: int,
    exclude_self: bool,
    source: str,
) -> RankMetrics:
    """Rank every query of every ``(first_query_index, distance_rows)`` chunk."""
    q_pids, g_pids, q_cams, g_cams = labels
    gallery = Gallery.build(g_pids, g_cams)
    lo, hi = gallery.segments(q_pids)
    acc = _Accumulator(max_rank)
    for start, rows in chunks:
        if np.isnan(rows).any():
            bad = start + int(np.flatnonzero(np.isnan(rows).any(axis=1))[0])
            raise InputError(f"{source} has NaN distances (first in query row {bad})")
        for r, row in enumerate(rows):
            q = start + r
            same_pid = gallery.by_pid[lo[q] : hi[q]]
            matches = true_matches(same_pid, g_cams, None if q_cams is None else int(q_cams[q]))
            if exclude_self:
                matches = matches[matches != q]
            if matches.size:
                acc.add(match_ranks(row, matches, same_pid))
    return acc.result(q_pids.size)


def evaluate_rank(
    distmat: ArrayLike,
    q_pids: ArrayLike,
    g_pids: ArrayLike,
    q_camids: ArrayLike | None = None,
    g_camids: ArrayLike | None = None,
    max_rank: int = 50,
    *,
    exclude_self: bool = False,
    chunk_size: int = 256,
) -> RankMetrics:
    """CMC, mAP and mINP of a query x gallery distance matrix under the Market-1501 protocol.

    Args:
        distmat: ``(num_query, num_gallery)`` distances (smaller is closer), numpy or torch
            (any device, any float dtype).
        q_pids: Identity of each query.
        g_pids: Identity of each gallery item.
        q_camids: Camera of each query; with ``g_camids``, gallery items sharing the query's
            identity and camera are removed. ``None`` (both) applies no camera rule.
        g_camids: Camera of each gallery item.
        max_rank: Length of the CMC curve; clamped (with a warning) to the gallery size.
        exclude_self: The query set *is* the gallery (all-vs-all): item ``i`` is not a match
            for query ``i``. Needs a square ``distmat`` and identical query/gallery labels.
        chunk_size: Query rows converted to numpy at a time (bounds the extra memory).

    Returns:
        The metrics, averaged over queries that keep at least one true match. Negative
        entries (a similarity matrix passed by mistake) give a ``UserWarning``.

    Raises:
        ValueError: Bad shapes or labels, NaN distances, an empty gallery, or no valid query.

    Example:
        >>> m = evaluate_rank(distmat, q_pids, g_pids, q_camids, g_camids)
        >>> print(f"Rank-1 {m.rank1:.1%}  mAP {m.mAP:.1%}")
    """
    shape = shape_of(distmat)
    if len(shape) != 2 or shape[0] == 0 or shape[1] == 0:
        raise InputError(
            f"distmat must be a non-empty 2-D (num_query, num_gallery) matrix, got shape {shape}"
        )
    check_chunk_size(chunk_size)
    num_q, num_g = shape
    source = f"distmat {shape}"
    labels = _labels(num_q, num_g, (q_pids, g_pids), (q_camids, g_camids), source, exclude_self)
    max_rank = _check_max_rank(max_rank, num_g)
    chunks = (
        (s, float_rows(distmat, s, min(s + chunk_size, num_q))) for s in range(0, num_q, chunk_size)
    )
    return _evaluate_chunks(
        _warn_if_similarity(chunks, source), labels, max_rank, exclude_self, source
    )


def _warn_if_similarity(
    chunks: Iterator[tuple[int, FloatArray]], source: str
) -> Iterator[tuple[int, FloatArray]]:
    """The chunks, with one warning if a distance is clearly negative: a similarity matrix
    (cosine similarity, a dot product) ranks the farthest items first. Rounding aside
    (``_NEGATIVE``), no distance is below zero."""
    warned = False
    for start, rows in chunks:
        low = float(rows.min()) if rows.size else 0.0
        if not warned and low < -_NEGATIVE:
            warnings.warn(
                f"{source} holds negative values (min {low:.3g}): evaluate_rank expects "
                "distances, smaller is closer. For a similarity matrix pass 1 - similarity "
                "(cosine) or -similarity, or rank features with evaluate_features.",
                UserWarning,
                stacklevel=4,
            )
            warned = True
        yield start, rows


def _products(a: torch.Tensor, b: torch.Tensor) -> FloatArray:
    """``a @ b.T`` as numpy: numpy's BLAS on CPU (much faster than torch's here), else torch."""
    if a.device.type == "cpu":
        product: FloatArray = a.numpy() @ b.numpy().T
        return product
    with torch.no_grad():
        return np.asarray((a @ b.T).cpu().numpy())


def _distance_chunks(
    query: torch.Tensor, gallery: torch.Tensor, metric: Metric, chunk_size: int
) -> Iterator[tuple[int, FloatArray]]:
    """Rows of the query x gallery distance matrix, ``chunk_size`` queries at a time."""
    if metric == "cosine":
        query = torch.nn.functional.normalize(query, dim=1)
        gallery = torch.nn.functional.normalize(gallery, dim=1)
    g_sq = (gallery * gallery).sum(dim=1).cpu().numpy()
    q_sq = (query * query).sum(dim=1).cpu().numpy()
    for start in range(0, query.shape[0], chunk_size):
        dist = _products(query[start : start + chunk_size], gallery)
        if metric == "cosine":
            np.subtract(1.0, dist, out=dist)
        else:  # squared Euclidean: ranks as Euclidean does, without the square root
            dist *= -2.0
            dist += g_sq[None, :]
            dist += q_sq[start : start + chunk_size, None]
        yield start, dist


def _check_metric(metric: str) -> None:
    if metric not in ("euclidean", "cosine"):
        raise InputError(f"metric must be 'euclidean' or 'cosine', got {metric!r}")


def _same_dtype(query: torch.Tensor, gallery: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both feature sets in their common (promoted) dtype."""
    if query.dtype == gallery.dtype:
        return query, gallery
    common = torch.promote_types(query.dtype, gallery.dtype)
    return query.to(common), gallery.to(common)


def evaluate_features(
    query_feats: ArrayLike,
    gallery_feats: ArrayLike,
    q_pids: ArrayLike,
    g_pids: ArrayLike,
    q_camids: ArrayLike | None = None,
    g_camids: ArrayLike | None = None,
    *,
    metric: Metric = "euclidean",
    chunk_size: int = 256,
    max_rank: int = 50,
    exclude_self: bool = False,
) -> RankMetrics:
    """:func:`evaluate_rank` from features, never holding more than ``chunk_size`` distance rows.

    Distances are computed on the features' device, ``chunk_size`` queries at a time:
    ``"euclidean"`` uses the squared Euclidean distance (same ranking, as torchreid computes
    it), ``"cosine"`` uses ``1 - cos``.

    Args:
        query_feats: ``(num_query, dim)`` float features (numpy or torch, any device).
        gallery_feats: ``(num_gallery, dim)`` float features.
        q_pids: Identity of each query.
        g_pids: Identity of each gallery item.
        q_camids: Camera of each query (see :func:`evaluate_rank`).
        g_camids: Camera of each gallery item.
        metric: ``"euclidean"`` or ``"cosine"``.
        chunk_size: Queries per distance block.
        max_rank: Length of the CMC curve.
        exclude_self: The query set is the gallery (pass the same features twice).

    Returns:
        The same metrics as :func:`evaluate_rank` on the full distance matrix.

    Raises:
        ValueError: Bad shapes, non-finite features, an unknown metric, or no valid query.

    Example:
        >>> m = evaluate_features(qf, gf, q_pids, g_pids, q_camids, g_camids, metric="cosine")
        >>> m.to_dict()
    """
    _check_metric(metric)
    check_chunk_size(chunk_size)
    query, gallery = _same_dtype(*as_feature_pair(query_feats, gallery_feats))
    num_q, num_g = query.shape[0], gallery.shape[0]
    source = f"features ({num_q} queries x {num_g} gallery items)"
    labels = _labels(num_q, num_g, (q_pids, g_pids), (q_camids, g_camids), source, exclude_self)
    max_rank = _check_max_rank(max_rank, num_g)
    chunks = _distance_chunks(query, gallery, metric, chunk_size)
    return _evaluate_chunks(chunks, labels, max_rank, exclude_self, "distances of the features")
