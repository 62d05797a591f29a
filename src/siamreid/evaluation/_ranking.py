"""Where each query's true matches land among the valid gallery items, without sorting rows.

A query's AP, CMC and INP depend only on the ranks of its true matches. Items farther than its
hardest match cannot precede any match, so only the closer ones are counted: against each
match's distance, with ties going to the lower gallery index (a stable sort's order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from siamreid.evaluation._inputs import FloatArray, IntArray

__all__ = ["Gallery", "match_ranks", "true_matches"]


@dataclass(frozen=True)
class Gallery:
    """Gallery labels with the gallery indices grouped by identity."""

    pids: IntArray
    camids: IntArray | None
    by_pid: IntArray  # gallery indices sorted by pid, ascending index within a pid
    unique_pids: IntArray
    starts: IntArray  # by_pid[starts[j]:starts[j + 1]] has pid unique_pids[j]

    @classmethod
    def build(cls, pids: IntArray, camids: IntArray | None) -> Gallery:
        by_pid = np.argsort(pids, kind="stable")
        unique_pids, starts = np.unique(pids[by_pid], return_index=True)
        return cls(pids, camids, by_pid, unique_pids, np.append(starts, pids.size))

    def segments(self, q_pids: IntArray) -> tuple[IntArray, IntArray]:
        """For each query pid, the bounds of its identity's slice of ``by_pid`` (empty if none)."""
        j = np.searchsorted(self.unique_pids, q_pids)
        j_safe = np.minimum(j, self.unique_pids.size - 1)
        found = self.unique_pids[j_safe] == q_pids
        lo = np.where(found, self.starts[j_safe], 0)
        hi = np.where(found, self.starts[j_safe + 1], 0)
        return lo, hi


def true_matches(same_pid: IntArray, g_camids: IntArray | None, q_camid: int | None) -> IntArray:
    """The protocol's junk rule, in one place: of the gallery items with the query's identity
    (``same_pid``), those from another camera are its true matches; those from the query's own
    camera are removed (neither match nor non-match). Without cameras, all are matches."""
    if g_camids is None or q_camid is None:
        return same_pid
    kept: IntArray = same_pid[g_camids[same_pid] != q_camid]
    return kept


# Up to this many true matches, closer items are counted with an (n_matches, n_items) comparison
# matrix; beyond it, by binary search.
_MATRIX_MAX_MATCHES = 64


def _count_closer(
    values: FloatArray, items: IntArray, thresholds: FloatArray, match_idx: IntArray
) -> IntArray:
    """For each match ``t``, how many ``items`` rank before it: closer, or tied with lower index.

    ``thresholds``/``match_idx`` are the matches' distances and gallery indices in rank order.
    """
    n = thresholds.size
    if n <= _MATRIX_MAX_MATCHES:
        before: IntArray = (values[None, :] < thresholds[:, None]).sum(axis=1)
        tied = values[None, :] == thresholds[:, None]
        if tied.any():
            t, col = np.nonzero(tied)
            before += np.bincount(t[items[col] < match_idx[t]], minlength=n)
        return before
    slot = np.searchsorted(thresholds, values, side="left")  # matches strictly closer
    tied = np.flatnonzero(slot < np.searchsorted(thresholds, values, side="right"))
    if tied.size:  # among the matches at the item's distance, those of lower index come first
        group = np.concatenate(([0], np.cumsum(thresholds[1:] != thresholds[:-1])))
        stride = int(max(match_idx.max(), items.max())) + 1
        keys = group * stride + match_idx  # ascending: by distance group, then by index
        slot[tied] = np.searchsorted(keys, group[slot[tied]] * stride + items[tied])
    return np.cumsum(np.bincount(slot, minlength=n + 1)[:n])


def match_ranks(row: FloatArray, matches: IntArray, same_pid: IntArray) -> IntArray:
    """0-based ranks of ``matches`` among the valid gallery items, ascending.

    ``same_pid`` holds every gallery item of the query's identity: the ``matches`` and the items
    the protocol removes. Every other item is a valid non-match.
    """
    dist = row[matches]
    order = np.argsort(dist, kind="stable")  # matches arrive sorted by index: (dist, index) order
    thresholds, match_idx = dist[order], matches[order]
    closer = row <= thresholds[-1]  # only these can precede a match
    closer[same_pid] = False
    items = np.flatnonzero(closer)
    before = _count_closer(row[items], items, thresholds, match_idx)
    return np.arange(thresholds.size) + before
