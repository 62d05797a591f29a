"""Exact brute-force search in torch: tiled matrix multiplies and a stable k-smallest selection."""

from __future__ import annotations

import math

import torch

from siamreid.retrieval.backends.options import IndexOptions

__all__ = ["QUERY_BLOCK", "TorchBackend", "pair_distances"]


class TorchBackend:
    """Exact brute-force search: chunked matmul and top-k; ties go to the earlier gallery row.

    Example:
        >>> backend = TorchBackend()
        >>> backend.sync(torch.eye(3), start=0)
        >>> backend.search(torch.eye(3)[:1], k=2)[1].tolist()
        [[0, 1]]
    """

    def __init__(self, options: IndexOptions | None = None) -> None:
        self.options = options or IndexOptions()
        self._gallery = torch.empty(0, 0)
        self._sq_norms = torch.empty(0)

    def sync(self, embeddings: torch.Tensor, start: int) -> None:
        """Reference the gallery (no copy) and cache its squared norms."""
        self._gallery = embeddings
        blocks = torch.split(embeddings, 65536)  # bounded temporaries for large galleries
        self._sq_norms = torch.cat([b.pow(2).sum(dim=1) for b in blocks] or [torch.empty(0)])

    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact ``k`` nearest rows, ordered by (distance, row).

        Candidates are found tile by tile (at most ``max_chunk_elements`` distances at once).
        A tile takes the whole gallery when that leaves room for many queries; for large
        galleries it takes at least :data:`QUERY_BLOCK` queries against a slice of the gallery,
        so that each matmul is large enough to run near the machine's matmul speed, and the
        best of each slice are merged. Every tile is written into one buffer: a fresh 128 MiB
        tensor per tile costs the kernel a page fault per 4 KiB, a quarter of the matmul's
        time (see ``docs/benchmarks.md``).

        A matmul's rounding depends on where a row sits in the tile and on the CPU's BLAS
        kernel, so two identical rows may get distances an ulp apart, and the tie rule would
        hold on one machine only. The matmul therefore only proposes candidates (more than
        ``k``); their distances are computed again pair by pair (:func:`pair_distances`, a
        function of the two vectors alone), and a query whose candidates might miss a row
        within the matmul's error bound of the ``k``-th distance is searched again over every
        row in that bound.
        """
        n, budget = len(self._gallery), self.options.max_chunk_elements
        q_block = min(len(queries), max(1, budget // max(1, n)))
        if q_block < min(len(queries), QUERY_BLOCK):
            q_block = min(len(queries), QUERY_BLOCK, budget)
        g_block = max(1, budget // max(1, q_block))
        buffer = torch.empty(min(q_block, len(queries)) * min(g_block, n))
        wanted = min(n, k + CANDIDATES_EXTRA)  # candidates per query
        dist_parts: list[torch.Tensor] = []
        index_parts: list[torch.Tensor] = []
        for chunk in torch.split(queries, q_block):
            best: tuple[torch.Tensor, torch.Tensor] | None = None
            for start in range(0, n, g_block):
                partial = self._partial_distances(chunk, start, start + g_block, buffer)
                values, indices = _smallest_k(partial, min(wanted, partial.shape[1]))
                best = _merge(best, values, indices.add_(start), wanted)
            assert best is not None  # n >= k >= 1
            dist, rows = self._exact_k(chunk, best[0], best[1], k, g_block, buffer)
            dist_parts.append(dist)
            index_parts.append(rows)
        return torch.cat(dist_parts), torch.cat(index_parts)

    def _exact_k(
        self,
        queries: torch.Tensor,
        approx: torch.Tensor,
        rows: torch.Tensor,
        k: int,
        g_block: int,
        buffer: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` best candidates by exact (distance, row); queries whose candidates may
        miss a row (ties or near-ties past the last candidate) are rescanned."""
        dist = pair_distances(queries[:, None, :], self._gallery[rows])
        dist, rows = _order_by_distance_then_row(dist, rows)
        dist, rows = dist[:, :k].contiguous(), rows[:, :k].contiguous()
        if approx.shape[1] == len(self._gallery):
            return dist, rows  # every row was a candidate
        q_sq = queries.double().pow(2).sum(dim=1)
        slack = self._error_bound(q_sq)
        # every row left out has a matmul value >= the last candidate's, so its squared
        # distance is at least that plus |q|^2 less the matmul's error
        floor = (approx[:, -1].double() + q_sq - slack).clamp(min=0.0).sqrt().float()
        unsure = (floor <= dist[:, -1]).nonzero().flatten()
        if len(unsure):
            ceiling = dist[unsure, -1].double().pow(2) - q_sq[unsure] + slack[unsure]
            found = self._rescan(queries[unsure], ceiling, rows[unsure], k, g_block, buffer)
            dist[unsure], rows[unsure] = found
        return dist, rows

    def _error_bound(self, q_sq: torch.Tensor) -> torch.Tensor:
        """A bound (four times the textbook one) on the float32 rounding of ``|g|^2 - 2 q.g``
        and of :func:`pair_distances`, for any row: ``(D + 2) u (|q| + max |g|)^2``."""
        dim = self._gallery.shape[1]
        g_norm = float(self._sq_norms.max()) ** 0.5 if len(self._sq_norms) else 0.0
        unit = float(torch.finfo(torch.float32).eps) / 2
        return 4.0 * (dim + 2) * unit * (q_sq.sqrt() + g_norm).pow(2) + 1e-30

    def _rescan(
        self,
        queries: torch.Tensor,
        ceiling: torch.Tensor,
        known: torch.Tensor,
        k: int,
        g_block: int,
        buffer: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Every row whose matmul value is within ``ceiling``, ranked exactly."""
        n = len(self._gallery)
        limit = torch.nextafter(ceiling.float(), torch.tensor(math.inf))[:, None]
        keys = [torch.arange(len(queries))[:, None] * n + known]
        for start in range(0, n, g_block):
            partial = self._partial_distances(queries, start, start + g_block, buffer)
            hit = (partial <= limit).nonzero()
            keys.append(hit[:, 0] * n + hit[:, 1] + start)
        key = torch.unique(torch.cat([part.flatten() for part in keys]))  # by (query, row)
        query, row = key // n, key % n
        dist = pair_distances(queries[query], self._gallery[row])
        order = dist.argsort(stable=True)
        order = order[query[order].argsort(stable=True)]  # by (query, distance, row)
        counts = torch.bincount(query, minlength=len(queries))
        first = torch.cumsum(counts, 0) - counts
        take = order[(first[:, None] + torch.arange(k)).flatten()].view(len(queries), k)
        return dist[take], row[take]

    def _partial_distances(
        self, queries: torch.Tensor, start: int, end: int, buffer: torch.Tensor
    ) -> torch.Tensor:
        """``|g|^2 - 2 q.g`` for gallery rows ``start:end``: squared distances less ``|q|^2``.

        Written into the front of ``buffer``; the result is valid until the next tile.
        """
        gallery = self._gallery[start:end]
        out = buffer[: len(queries) * len(gallery)].view(len(queries), len(gallery))
        return torch.addmm(self._sq_norms[start:end], queries, gallery.T, alpha=-2.0, out=out)


QUERY_BLOCK = 1024
"""Fewest queries per distance tile of :class:`TorchBackend` when the gallery is sliced."""

CANDIDATES_EXTRA = 4
"""The matmul proposes ``k + CANDIDATES_EXTRA`` candidates per query for the exact pass."""


def pair_distances(queries: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Euclidean distances between broadcast ``[..., D]`` vectors, each a function of its pair
    alone: squares summed in a fixed pairwise order by element-wise adds (no BLAS, and no
    reduction kernel whose order could depend on the row's position, the thread count or
    the CPU)."""
    terms = (queries - rows).pow_(2)
    while terms.shape[-1] > 1:
        half = terms.shape[-1] // 2
        summed = terms[..., :half] + terms[..., half : 2 * half]
        if terms.shape[-1] % 2:
            summed[..., :1] += terms[..., -1:]
        terms = summed
    return terms[..., 0].sqrt_()


def _order_by_distance_then_row(
    dist: torch.Tensor, rows: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    order = rows.argsort(dim=1)
    dist, rows = dist.gather(1, order), rows.gather(1, order)
    dist, order = dist.sort(dim=1, stable=True)
    return dist, rows.gather(1, order)


def _merge(
    best: tuple[torch.Tensor, torch.Tensor] | None,
    values: torch.Tensor,
    indices: torch.Tensor,
    k: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` best of ``best`` and a later gallery slice's candidates, by (value, row).

    Both inputs are ordered by (value, row) and every row in ``indices`` comes after those in
    ``best``, so a stable sort of the concatenation by value keeps ties in row order.
    """
    if best is None:
        return values, indices
    values, order = torch.cat([best[0], values], dim=1).sort(dim=1, stable=True)
    indices = torch.cat([best[1], indices], dim=1).gather(1, order)
    return values[:, :k], indices[:, :k]


SELECT_BLOCK = 64
"""Columns per block of :func:`_smallest_k`'s first pass (one block minimum each)."""


def _smallest_k(sq_dist: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Smallest ``k`` per row, ordered by (value, column): :func:`_stable_topk`, faster.

    ``torch.topk`` over a wide tile costs a fifth of the matrix multiply that made it. Here one
    pass takes the minimum of each block of :data:`SELECT_BLOCK` columns; the ``k`` nearest
    lie in the ``k`` blocks of smallest minimum (and the columns after the last whole block),
    since each of those blocks holds a value no larger than the ``k``-th block minimum. Only
    those ``k * SELECT_BLOCK`` candidates are sorted. Rows where the ``k``-th and the next
    block minimum tie (a block left out might hold a tied value of a smaller column) are sorted
    in full.
    """
    rows, width = sq_dist.shape
    blocks = width // SELECT_BLOCK
    if blocks < 8 * (k + 1):  # narrow tiles or large k: the candidates would not be few
        return _stable_topk(sq_dist, k)
    whole = sq_dist[:, : blocks * SELECT_BLOCK].reshape(rows, blocks, SELECT_BLOCK)
    minima, chosen = whole.amin(dim=2).topk(k + 1, dim=1, largest=False, sorted=True)
    tied = minima[:, k] == minima[:, k - 1]
    chosen = chosen[:, :k].sort(dim=1).values  # candidates in column order, for stable ties
    values = whole.gather(1, chosen[:, :, None].expand(rows, k, SELECT_BLOCK)).flatten(1)
    columns = (chosen[:, :, None] * SELECT_BLOCK + torch.arange(SELECT_BLOCK)).flatten(1)
    if blocks * SELECT_BLOCK < width:  # the columns after the last whole block: always in
        values = torch.cat([values, sq_dist[:, blocks * SELECT_BLOCK :]], dim=1)
        tail = torch.arange(blocks * SELECT_BLOCK, width).expand(rows, -1)
        columns = torch.cat([columns, tail], dim=1)
    values, order = values.sort(dim=1, stable=True)
    values, indices = values[:, :k].contiguous(), columns.gather(1, order[:, :k])
    for row in tied.nonzero().flatten().tolist():
        row_values, row_indices = sq_dist[row].sort(stable=True)
        values[row], indices[row] = row_values[:k], row_indices[:k]
    return values, indices


def _stable_topk(sq_dist: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Smallest ``k`` per row, ordered by (value, column), as a stable sort would give."""
    extra = min(k + 1, sq_dist.shape[1])  # one more, to see ties across the k-th place
    values, indices = torch.topk(sq_dist, extra, dim=1, largest=False, sorted=True)
    straddling = (
        (values[:, k] == values[:, k - 1])
        if extra > k
        else torch.zeros(len(values), dtype=torch.bool)
    )
    values, indices = values[:, :k], indices[:, :k]
    indices, order = indices.sort(dim=1)
    values, order = values.gather(1, order).sort(dim=1, stable=True)
    indices = indices.gather(1, order)
    # topk chose arbitrarily among values tied at the k-th place: redo those rows in full
    for row in straddling.nonzero().flatten().tolist():
        row_values, row_indices = sq_dist[row].sort(stable=True)
        values[row], indices[row] = row_values[:k], row_indices[:k]
    return values, indices
