"""Squared distances between features, and every item's nearest neighbours among all items.

Everything here runs in torch on the features' device (a GPU when given CUDA tensors). The
neighbour search is exact but computes each distance once: row block ``i`` only multiplies
against the items after it (the upper triangle); each block's ``torch.topk`` along its rows gives
those rows' candidates and along its columns hands the entries below the diagonal to the later
rows, which keep a running pool of their ``k + POOL_EXTRA`` smallest distances.

The reference orders neighbours by ``O = P / colmax`` (then index), and the division can round
distinct distances to one value. Dividing by a positive constant never reverses an order, so a
pool holds the true ``k`` nearest whenever its largest ``O`` exceeds its ``k``-th; the rare rows
where they tie are recomputed in full. The pool's distances also serve the later look-ups of
``P[i, j]``, which the pool answers for most pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from siamreid.evaluation._kreciprocal import F32, I64, Neighbours

__all__ = ["FeatureDistances", "symmetric_neighbours"]

POOL_EXTRA = 11  # neighbours kept beyond k: ties and later pair look-ups
_PAIR_BLOCK = 8192  # feature pairs gathered at a time (two 16 MiB gathers of 512-d float32)


class FeatureDistances:
    """``P = D ** 2`` with ``D`` the squared Euclidean distance of features (queries first).

    ``D`` is computed as the reference's inputs are, ``(|a|^2 + |b|^2) - 2 a.b``, each
    operation rounded in the features' precision. On CPU the norms and products go through
    numpy (its BLAS), as the dense matrices torchreid's code is given usually are, so that the
    two agree to the last bit and near-ties between neighbours fall the same way; on other
    devices, torch.
    """

    def __init__(self, query: torch.Tensor, gallery: torch.Tensor) -> None:
        self.x = torch.cat([query, gallery]).contiguous()
        self.num_query, self.num_items = query.shape[0], self.x.shape[0]
        self.device = self.x.device
        self.x_np = self.x.numpy() if self.device.type == "cpu" else None
        if self.x_np is not None:
            self.sq = torch.from_numpy((self.x_np * self.x_np).sum(axis=1))
        else:
            self.sq = (self.x * self.x).sum(dim=1)

    def _products(self, rows: slice | torch.Tensor, cols: slice, out: torch.Tensor) -> None:
        """``out = x[rows] @ x[cols].T``."""
        if self.x_np is not None:
            left = self.x_np[rows if isinstance(rows, slice) else rows.numpy()]
            np.matmul(left, self.x_np[cols].T, out=out.numpy())
        else:
            torch.mm(self.x[rows], self.x[cols].T, out=out)

    def rows(
        self,
        rows: slice | torch.Tensor,
        cols: slice,
        out: torch.Tensor | None = None,
        scratch: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``P[rows, cols]`` as float32 on the features' device, self-distances exactly zero.

        ``D`` is not clamped: the reference does not clamp either. ``out`` and ``scratch``,
        flat buffers of the features' dtype, save allocating (and faulting in) two fresh
        blocks every call.
        """
        num_rows = len(range(self.num_items)[rows]) if isinstance(rows, slice) else rows.numel()
        shape = (num_rows, len(range(self.num_items)[cols]))
        size = shape[0] * shape[1]
        empty = torch.empty(size, dtype=self.x.dtype, device=self.device)
        d = (empty if out is None else out[:size]).view(shape)
        norms = (empty.clone() if scratch is None else scratch[:size]).view(shape)
        self._products(rows, cols, d)
        torch.add(self.sq[rows][:, None], self.sq[cols][None, :], out=norms)
        torch.add(norms, d, alpha=-2.0, out=d)  # (|a|^2 + |b|^2) - 2 a.b; -2 a.b is exact
        row_ids = torch.arange(self.num_items, device=self.device)[rows]
        start, stop, _ = cols.indices(self.num_items)
        own = torch.nonzero((row_ids >= start) & (row_ids < stop))[:, 0]
        d[own, row_ids[own] - start] = 0.0
        d.square_()
        return d.to(torch.float32)

    def pairs(self, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        """``P[rows, cols]`` (float32) for index pairs on the features' device (symmetric)."""
        out = torch.empty(rows.numel(), dtype=torch.float32, device=self.device)
        for s in range(0, rows.numel(), _PAIR_BLOCK):
            i, j = rows[s : s + _PAIR_BLOCK], cols[s : s + _PAIR_BLOCK]
            dot = (self.x.index_select(0, i) * self.x.index_select(0, j)).sum(dim=1)
            d = dot.mul_(-2.0).add_(self.sq[j]).add_(self.sq[i])
            d[i == j] = 0.0
            out[s : s + _PAIR_BLOCK] = d.square_()
        return out


def _keep_smallest(
    items: torch.Tensor, vals: torch.Tensor, idx: torch.Tensor, n: int, size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per item, the ``size`` candidates of smallest value: ``(n, size)`` values and indices.

    Every item must have at least ``size`` candidates.
    """
    # vals >= 0 (squares), so their float32 bit patterns sort like the values
    key = (items << 32) | vals.view(torch.int32).to(torch.int64)
    order = torch.sort(key)[1]
    counts = torch.bincount(items, minlength=n)
    starts = torch.cumsum(counts, 0) - counts
    pick = order[starts[:, None] + torch.arange(size, device=items.device)]
    return vals[pick], idx[pick]


def _order(o: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's entries sorted by ``o`` (float32, >= 0), then by ``idx`` (distinct, >= 0).

    One sort of ``(o's bit pattern, idx)`` packed into an int64 key per entry.
    """
    key = torch.sort((o.view(torch.int32).to(torch.int64) << 32) | idx, dim=1)[0]
    return (key >> 32).to(torch.int32).view(torch.float32), key & 0xFFFFFFFF


class NeighbourPool:
    """Every item's ``size`` smallest ``P`` (with their items), and ``P`` look-ups from them."""

    def __init__(self, dist: FeatureDistances, vals: torch.Tensor, idx: torch.Tensor) -> None:
        n = dist.num_items
        idx, perm = torch.sort(idx, dim=1)
        self.dist, self.vals = dist, torch.gather(vals, 1, perm).ravel()
        self.keys = (idx + torch.arange(n, device=dist.device)[:, None] * n).ravel()

    def pairs(self, rows: I64, cols: I64) -> F32:
        """``P[rows, cols]``: from the pools where they hold it, else from the features.

        ``P`` is symmetric: a pair missing from ``rows``' pool is looked up in ``cols``' pool
        before it is computed from the features.
        """
        device = self.dist.device
        i = torch.from_numpy(rows).to(device)
        j = torch.from_numpy(cols).to(device)
        out = torch.zeros(i.numel(), dtype=torch.float32, device=device)
        miss = torch.arange(i.numel(), device=device)
        for a, b in ((i, j), (j, i)):
            miss = self._look_up(a[miss], b[miss], miss, out)
        if miss.numel():
            out[miss] = self.dist.pairs(i[miss], j[miss])
        values: F32 = out.cpu().numpy()
        return values

    def _look_up(
        self, rows: torch.Tensor, cols: torch.Tensor, where: torch.Tensor, out: torch.Tensor
    ) -> torch.Tensor:
        """Write the pooled ``P[rows, cols]`` into ``out[where]``; return the rest of ``where``."""
        wanted = rows * self.dist.num_items + cols
        pos = torch.searchsorted(self.keys, wanted).clamp_(max=self.keys.numel() - 1)
        hit = self.keys[pos] == wanted
        out[where[hit]] = self.vals[pos[hit]]
        return where[~hit]


def symmetric_neighbours(
    dist: FeatureDistances, k: int, chunk_size: int
) -> tuple[Neighbours, NeighbourPool]:
    """Every item's ``k`` nearest neighbours (by the reference's original distance ``O``).

    Returns:
        The neighbours (nearest ``k``, column maxima of ``P``, ``O[:Q, Q:]``) as numpy arrays,
        and the pools, which answer most ``P[i, j]`` look-ups of the later steps.
    """
    n, q = dist.num_items, dist.num_query
    size = min(k + POOL_EXTRA, n)
    scan = _scan_blocks(dist, size, chunk_size)
    colmax = scan.colmax
    if not bool((colmax > 0).all()):
        raise ValueError("all features are identical; re-ranking needs distinct points")
    own = scan.pool_idx >= 0
    items = torch.arange(n, device=dist.device)[:, None].expand(n, size)[own]
    parts = [(items, scan.pool_idx[own], scan.pool_vals[own]), *scan.found]
    items, idx, vals = (torch.cat(p) for p in zip(*parts, strict=True))
    pool_vals, pool_idx = _keep_smallest(items, vals, idx, n, size)
    o, nearest = _order(pool_vals / colmax[:, None], pool_idx)
    if size < n:  # the pool may miss items tied with its k-th: recompute those rows in full
        tied = torch.nonzero(o[:, k - 1] >= o[:, -1])[:, 0]
        for s in range(0, tied.numel(), chunk_size):
            rows_t = tied[s : s + chunk_size]
            full = dist.rows(rows_t, slice(0, n)) / colmax[rows_t, None]
            nearest[rows_t, :k] = torch.sort(full, dim=1, stable=True)[1][:, :k]
    original = scan.original.div_(colmax[:q, None])  # in place: [Q, G] is large
    neighbours = (nearest[:, :k].cpu().numpy(), colmax.cpu().numpy(), original.cpu().numpy())
    return neighbours, NeighbourPool(dist, pool_vals, pool_idx)


@dataclass
class _BlockScan:
    """What one pass over the row blocks of ``P`` collects.

    Attributes:
        pool_vals: ``[N, size]`` each item's smallest distances among its own rows' entries.
        pool_idx: Their item indices (-1: none).
        colmax: ``[N]`` column maxima of ``P``.
        original: ``[Q, G]`` query-to-gallery distances, not yet divided by ``colmax``.
        found: Entries of later items seen from earlier rows that may enter those items' pools,
            as (item, neighbour, distance) tensors.
    """

    pool_vals: torch.Tensor
    pool_idx: torch.Tensor
    colmax: torch.Tensor
    original: torch.Tensor
    found: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


def _scan_blocks(dist: FeatureDistances, size: int, chunk_size: int) -> _BlockScan:
    """Row blocks of ``P``'s upper triangle, from the last to the first.

    When block ``s:e`` hands an entry to a later item ``j >= e``, ``j``'s own rows (every item
    from its block on) have already given it a pool of ``size`` distances: only entries below
    the largest of them can still matter.
    """
    n, q, device = dist.num_items, dist.num_query, dist.device
    pool_vals = torch.full((n, size), torch.inf, dtype=torch.float32, device=device)
    pool_idx = torch.full((n, size), -1, dtype=torch.int64, device=device)
    limit = torch.full((n,), torch.inf, dtype=torch.float32, device=device)
    scan = _BlockScan(
        pool_vals,
        pool_idx,
        torch.zeros(n, dtype=torch.float32, device=device),
        torch.empty((q, n - q), dtype=torch.float32, device=device),
        [],
    )
    colmax = scan.colmax
    buffer = torch.empty(min(chunk_size, n) * n, dtype=dist.x.dtype, device=device)
    scratch = torch.empty_like(buffer)
    below_mask = torch.empty(min(chunk_size, n) * n, dtype=torch.bool, device=device)
    for start in reversed(range(0, n, chunk_size)):
        stop = min(start + chunk_size, n)
        block = dist.rows(slice(start, stop), slice(start, n), buffer, scratch)  # P[start:, start:]
        torch.maximum(colmax[start:stop], block.amax(dim=1), out=colmax[start:stop])
        if start < q:  # every gallery column lies right of a query row
            scan.original[start : min(stop, q)] = block[: min(stop, q) - start, q - start :]
        width = min(size, n - start)
        vals, cols = torch.topk(block, width, dim=1, largest=False, sorted=False)
        pool_vals[start:stop, :width], pool_idx[start:stop, :width] = vals, cols + start
        if width == size:
            limit[start:stop] = vals.amax(dim=1)
        below = block[:, stop - start :]  # entries of later items, seen from their side
        if below.shape[1]:
            torch.maximum(colmax[stop:], below.amax(dim=0), out=colmax[stop:])
            mask = below_mask[: below.numel()].view(below.shape)
            r, c = torch.nonzero(torch.lt(below, limit[None, stop:], out=mask), as_tuple=True)
            scan.found.append((c + stop, r + start, below[r, c]))
    return scan
