"""The nearest valid gallery items of a few queries: what a ranked-match picture shows.

The same protocol as :func:`~siamreid.evaluation.evaluate_rank`: gallery items of the query's
identity seen by the query's own camera are removed (the one junk rule, in ``_ranking``), and
the rest are ranked by distance, ties by gallery index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from siamreid._checks import is_int
from siamreid.errors import InputError
from siamreid.evaluation._inputs import ArrayLike, IntArray, as_feature_pair, as_ids
from siamreid.evaluation._ranking import Gallery, true_matches

__all__ = ["TopMatches", "top_matches"]


@dataclass(frozen=True)
class TopMatches:
    """The ``k`` nearest valid gallery items of each query, nearest first.

    Attributes:
        gallery_rows: ``[Q, k]`` gallery indices.
        distances: ``[Q, k]`` Euclidean distances.
        correct: ``[Q, k]`` whether each item shows the query's identity.
    """

    gallery_rows: npt.NDArray[np.int64]
    distances: npt.NDArray[np.float32]
    correct: npt.NDArray[np.bool_]


def top_matches(
    query_feats: ArrayLike,
    gallery_feats: ArrayLike,
    q_pids: ArrayLike,
    g_pids: ArrayLike,
    q_camids: ArrayLike | None = None,
    g_camids: ArrayLike | None = None,
    *,
    k: int = 10,
) -> TopMatches:
    """The ``k`` nearest gallery items of each query by Euclidean distance, junk removed.

    Args:
        query_feats: ``[Q, D]`` query features.
        gallery_feats: ``[G, D]`` gallery features.
        q_pids: ``Q`` query identities.
        g_pids: ``G`` gallery identities.
        q_camids: ``Q`` query cameras (with ``g_camids``), or ``None``: no camera rule.
        g_camids: ``G`` gallery cameras, or ``None``.
        k: Matches per query (at most the number of valid items; rows are padded with index
            -1 and distance ``inf`` when a query has fewer).

    Example:
        >>> feats = torch.eye(3)
        >>> top_matches(feats[:1], feats, [1], [1, 1, 2], [0], [0, 1, 0], k=2).gallery_rows
        array([[1, 2]])
    """
    if not is_int(k) or k < 1:
        raise InputError(f"k must be a positive integer, got {k!r}")
    query, gallery = as_feature_pair(query_feats, gallery_feats)
    num_q, num_g = int(query.shape[0]), int(gallery.shape[0])
    qp, gp, qc, gc = _checked_labels(num_q, num_g, q_pids, g_pids, q_camids, g_camids)
    dist = torch.cdist(query.float(), gallery.float()).cpu().numpy().astype(np.float64)
    rows, dists = _nearest_valid(dist, qp, gp, qc, gc, min(int(k), num_g))
    correct = (rows >= 0) & (gp[np.maximum(rows, 0)] == qp[:, None])
    return TopMatches(rows, dists, correct)


def _checked_labels(
    num_q: int,
    num_g: int,
    q_pids: ArrayLike,
    g_pids: ArrayLike,
    q_camids: ArrayLike | None,
    g_camids: ArrayLike | None,
) -> tuple[IntArray, IntArray, IntArray | None, IntArray | None]:
    """Query and gallery identities and cameras as int arrays of the right lengths."""
    qp = as_ids(q_pids, "q_pids", num_q, f"{num_q} queries")
    gp = as_ids(g_pids, "g_pids", num_g, f"{num_g} gallery items")
    if (q_camids is None) != (g_camids is None):
        raise InputError("pass both q_camids and g_camids, or neither (no camera rule)")
    qc = None if q_camids is None else as_ids(q_camids, "q_camids", num_q, f"{num_q} queries")
    gc = None if g_camids is None else as_ids(g_camids, "g_camids", num_g, f"{num_g} items")
    return qp, gp, qc, gc


def _nearest_valid(
    dist: npt.NDArray[np.float64],
    qp: IntArray,
    gp: IntArray,
    qc: IntArray | None,
    gc: IntArray | None,
    k: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Each query's ``k`` nearest gallery rows and distances, its junk left out (-1 / inf pad)."""
    num_q = len(qp)
    index = Gallery.build(gp, gc)
    lo, hi = index.segments(qp)
    rows = np.full((num_q, k), -1, dtype=np.int64)
    dists = np.full((num_q, k), np.inf, dtype=np.float32)
    for q in range(num_q):
        same_pid = index.by_pid[lo[q] : hi[q]]
        removed = np.setdiff1d(
            same_pid, true_matches(same_pid, gc, None if qc is None else int(qc[q]))
        )
        row = dist[q].copy()
        row[removed] = np.inf
        order = np.argsort(row, kind="stable")[:k]
        order = order[np.isfinite(row[order])]
        rows[q, : order.size] = order
        dists[q, : order.size] = row[order]
    return rows, dists
