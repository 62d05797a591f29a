"""The k-reciprocal re-ranking computation on sparse neighbour sets (Zhong et al., CVPR 2017).

It follows the reference code that torchreid and fast-reid ship step by step, but keeps only
what each step reads: the ``k`` nearest neighbours of every item, the weights of each item's
expanded k-reciprocal set (a sparse row), and the query rows of the original distance. Nothing
of size ``N x N`` (``N`` = queries + gallery) is ever built.

The reference's "original distance" is ``O[i, j] = P[j, i] / max_a P[a, i]`` with ``P`` the
squared input distance (the reference squares whatever distances it is given). A *source*
supplies ``P``; see :mod:`siamreid.evaluation.rerank`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeAlias

import numpy as np
import numpy.typing as npt
import torch

__all__ = ["Neighbours", "SquaredDistanceSource", "dense_neighbours", "k_reciprocal_rerank"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Neighbours: TypeAlias = "tuple[I64, F32, F32]"  # nearest neighbours, column maxima, O[:Q, Q:]


class SquaredDistanceSource(Protocol):
    """Squared distances ``P`` read column by column (the dense matrices of :func:`re_rank`)."""

    num_query: int
    num_items: int  # queries + gallery

    def columns(self, start: int, stop: int) -> F32:
        """``P[:, start:stop].T`` as a float32 ``(stop - start, num_items)`` array."""

    def pairs(self, rows: I64, cols: I64) -> F32:
        """``P[cols, rows]`` (the entries ``O[rows, cols]`` is made of), float32."""


@dataclass(frozen=True)
class _Csr:
    """A sparse ``num_rows x num_cols`` matrix, column indices ascending within each row."""

    indptr: I64
    indices: I64
    data: F64

    def row_of_entry(self) -> I64:
        return np.repeat(np.arange(self.indptr.size - 1), np.diff(self.indptr))


def _expand(starts: I64, counts: I64) -> I64:
    """Concatenated ``arange(start, start + count)`` for every pair (vectorised)."""
    total = int(counts.sum())
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts, counts) + offsets


def _smallest_k(o: F32, k: int) -> I64:
    """Per row, the columns of the ``k`` smallest entries, ordered by (value, column)."""
    kk = min(k + 1, o.shape[1])  # one extra to see whether the k-th value is tied outside
    values, cols = torch.topk(torch.from_numpy(o), kk, dim=1, largest=False, sorted=False)
    vals, idx = values.numpy(), cols.numpy().astype(np.int64)
    order = np.lexsort((idx, vals), axis=1)
    vals, idx = np.take_along_axis(vals, order, axis=1), np.take_along_axis(idx, order, axis=1)
    if kk > k:
        for r in np.flatnonzero(vals[:, k - 1] == vals[:, k]):  # lowest columns win the tie
            idx[r, :k] = np.argsort(o[r], kind="stable")[:k]
    return np.ascontiguousarray(idx[:, :k])


def dense_neighbours(source: SquaredDistanceSource, k: int, chunk_size: int) -> Neighbours:
    """``k`` nearest neighbours of every item, the column maxima of ``P``, and ``O[:Q, Q:]``."""
    n, q = source.num_items, source.num_query
    nn = np.empty((n, k), dtype=np.int64)
    colmax = np.empty(n, dtype=np.float32)
    original_qg = np.empty((q, n - q), dtype=np.float32)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        o = source.columns(start, stop)
        colmax[start:stop] = o.max(axis=1)
        if not np.all(colmax[start:stop] > 0):
            bad = start + int(np.flatnonzero(~(colmax[start:stop] > 0))[0])
            raise ValueError(
                f"every distance to item {bad} (0-based, queries first) is zero; re-ranking "
                "divides by the largest one: remove duplicates of a single point"
            )
        np.divide(o, colmax[start:stop, None], out=o)
        nn[start:stop] = _smallest_k(o, k)
        if start < q:
            original_qg[start : min(stop, q)] = o[: q - start, q:]
    return nn, colmax, original_qg


def _reciprocal(fwd: npt.NDArray[np.int32]) -> npt.NDArray[np.bool_]:
    """``mask[i, s]``: item ``fwd[i, s]`` also has ``i`` among its ``fwd.shape[1]`` neighbours."""
    mask = np.empty(fwd.shape, dtype=bool)
    for start in range(0, fwd.shape[0], 4096):
        block = fwd[start : start + 4096]
        own = np.arange(start, start + block.shape[0], dtype=fwd.dtype)[:, None, None]
        mask[start : start + 4096] = (fwd[block] == own).any(axis=2)
    return mask


def _expansion_sets(nn: I64, k1: int) -> tuple[I64, I64]:
    """Each item's expanded k-reciprocal set: CSR ``(indptr, indices)``, indices ascending.

    The overlap of a candidate's set with ``R(i, k1)`` is counted against a bit set of
    ``R(i, k1)`` per item (items taken a block at a time, so memory stays linear in ``N``).
    """
    n = nn.shape[0]
    # int32 items (n < 2**31) halve the memory the gathers and the sort below move
    fwd = nn[:, : min(k1 + 1, n)].astype(np.int32)
    half = np.ascontiguousarray(fwd[:, : min(int(np.around(k1 / 2.0)) + 1, n)])
    rec, rec_half = _reciprocal(fwd), _reciprocal(half)
    members = np.where(rec_half, half, -1)  # R(c, k1/2) of every item c, -1 = absent
    min_inter = 2.0 / 3.0 * rec_half.sum(axis=1)  # accept c if the overlap exceeds this
    words = (n + 7) // 8
    width = fwd.shape[1] * (1 + half.shape[1])
    merged = np.full((n, width), -1, dtype=np.int32)
    merged[:, : fwd.shape[1]] = np.where(rec, fwd, -1)  # R(i, k1)
    step = max(1, (1 << 24) // words)  # rows whose bit sets take 16 MB
    for start in range(0, n, step):
        stop = min(start + step, n)
        r, s = np.nonzero(rec[start:stop])
        j = fwd[start + r, s]
        bits = np.zeros((stop - start) * words, dtype=np.uint8)
        np.bitwise_or.at(bits, r * words + (j >> 3), np.left_shift(1, j & 7).astype(np.uint8))
        cand = fwd[start:stop]  # c = fwd[i, s], used where rec[i, s]
        sets = members[cand]  # (rows, k1 + 1, half)
        local = np.arange(stop - start, dtype=np.int32)[:, None, None] * np.int32(words)
        byte = bits[local + (np.maximum(sets, 0) >> 3)]
        hit = (np.right_shift(byte, sets & 7) & 1).astype(bool) & (sets >= 0)
        accept = rec[start:stop] & (hit.sum(axis=2) > min_inter[cand])
        merged[start:stop, fwd.shape[1] :] = np.where(accept[..., None], sets, -1).reshape(
            stop - start, -1
        )
    merged.sort(axis=1)
    keep = merged >= 0
    keep[:, 1:] &= merged[:, 1:] != merged[:, :-1]
    indptr = np.concatenate(([0], np.cumsum(keep.sum(axis=1)))).astype(np.int64)
    return indptr, merged[keep].astype(np.int64)


def _weights(pairs: Callable[[I64, I64], F32], sets: tuple[I64, I64], colmax: F32) -> _Csr:
    """Row-normalised ``exp(-O[i, j])`` over each item's expanded set ``j``."""
    indptr, cols = sets
    n = indptr.size - 1
    rows = np.repeat(np.arange(n), np.diff(indptr))
    o = pairs(rows, cols) / colmax[rows]
    w = np.exp(-o).astype(np.float64)
    w /= np.bincount(rows, weights=w, minlength=n)[rows]
    return _Csr(indptr, cols, w)


def _average_rows(v: _Csr, neighbours: I64) -> _Csr:
    """Local query expansion: row ``i`` becomes the mean of the rows ``neighbours[i]``.

    The ``k`` source rows of each output row are laid side by side (padded), sorted by column
    within the row, and entries of one column summed.
    """
    n, k = neighbours.shape
    counts = np.diff(v.indptr)
    width = int(counts.max())
    pos = np.arange(v.indices.size) - np.repeat(v.indptr[:-1], counts)
    flat = v.row_of_entry() * width + pos
    cols = np.full(n * width, n, dtype=np.int64)  # n: absent, sorts last
    cols[flat] = v.indices
    data = np.zeros(n * width, dtype=np.float64)
    data[flat] = v.data
    src = (neighbours[:, :, None] * width + np.arange(width)).reshape(n, k * width)
    span = k * width  # sorting cols * span + position sorts by column, carrying the position
    key_type = np.int32 if (n + 1) * span < 2**31 else np.int64  # int32 sorts twice as fast
    keys = cols[src].astype(key_type) * key_type(span) + np.arange(span, dtype=key_type)
    keys.sort(axis=1)
    cols, pos = np.divmod(keys, key_type(span))
    data = data[np.take_along_axis(src, pos, axis=1)]
    first = cols < n
    first[:, 1:] &= cols[:, 1:] != cols[:, :-1]
    starts = np.flatnonzero(first.ravel())
    sums = np.add.reduceat(data.ravel(), starts) if starts.size else np.zeros(0)
    indptr = np.concatenate(([0], np.cumsum(first.sum(axis=1)))).astype(np.int64)
    return _Csr(indptr, cols.ravel()[starts], sums / k)


class _GalleryColumns:
    """The gallery rows of ``V`` indexed by column, for the Jaccard overlap of query rows."""

    def __init__(self, v: _Csr, num_query: int) -> None:
        self.v, self.num_query = v, num_query
        self.entry_row = v.row_of_entry()
        entries = np.arange(v.indptr[num_query], v.indptr[-1])
        self.by_col = entries[np.argsort(v.indices[entries], kind="stable")]
        self.col_ptr = np.searchsorted(v.indices[self.by_col], np.arange(v.indptr.size))

    def overlap(self, start: int, stop: int) -> tuple[I64, F64]:
        """The terms of ``sum_c min(V[q, c], V[Q + g, c])`` for queries ``start:stop``.

        Returns the flat position ``(q - start) * num_gallery + g`` of each term (positions
        repeat: one per shared column) and its value.
        """
        v, num_query = self.v, self.num_query
        q_entries = np.arange(v.indptr[start], v.indptr[stop])
        cols = v.indices[q_entries]
        counts = self.col_ptr[cols + 1] - self.col_ptr[cols]
        partner = self.by_col[_expand(self.col_ptr[cols], counts)]
        mins = np.minimum(np.repeat(v.data[q_entries], counts), v.data[partner])
        num_g = v.indptr.size - 1 - num_query
        flat = np.repeat(self.entry_row[q_entries] - start, counts) * num_g
        flat += self.entry_row[partner] - num_query
        return flat, mins


def k_reciprocal_rerank(
    neighbours: Neighbours,
    pairs: Callable[[I64, I64], F32],
    k1: int,
    k2: int,
    lambda_value: float,
    chunk_size: int,
) -> F32:
    """Re-ranked ``(num_query, num_gallery)`` distances, float32, as the reference computes them.

    Args:
        neighbours: Every item's nearest ``max(k1 + 1, k2)`` items (ordered by ``O``, then
            index), the column maxima of ``P`` and ``O[:Q, Q:]`` (overwritten and returned).
        pairs: ``pairs(i, j)`` gives ``P[j, i]``, the entries ``O[i, j]`` is made of.
        k1: Size of the k-reciprocal neighbourhoods.
        k2: Neighbours averaged in the local query expansion.
        lambda_value: Weight of the original distance.
        chunk_size: Queries whose Jaccard distances are computed at a time.
    """
    nn, colmax, final = neighbours
    n, q = nn.shape[0], final.shape[0]
    v = _weights(pairs, _expansion_sets(nn, k1), colmax)
    if k2 != 1:
        v = _average_rows(v, nn[:, : min(k2, n)])
    gallery = _GalleryColumns(v, q)
    final *= lambda_value  # + (1 - lambda) * jaccard, where jaccard = 1 - m / (2 - m) ...
    final += 1 - lambda_value  # ... is 1 wherever the overlap m is 0, i.e. almost everywhere
    rows = torch.from_numpy(final).view(q, -1)  # shares memory with final
    sums = torch.zeros(min(chunk_size, q) * rows.shape[1], dtype=torch.float64)
    for start in range(0, q, chunk_size):
        stop = min(start + chunk_size, q)
        flat, terms = (torch.from_numpy(a) for a in gallery.overlap(start, stop))
        sums.index_add_(0, flat, terms)
        # each pair collects ~10 terms: the pairs with any (overlap m > 0) are found by one
        # sequential scan, cheaper than reading and writing back every term's position
        hit = torch.nonzero(sums[: (stop - start) * rows.shape[1]])[:, 0]
        m = sums[hit]
        sums[hit] = 0.0
        chunk = rows[start:stop].view(-1)
        chunk[hit] = chunk[hit] - ((1 - lambda_value) * m / (2.0 - m)).to(torch.float32)
    return final
