"""Exact brute-force search in torch: tiled matrix multiplies and a stable k-smallest selection."""

from __future__ import annotations

import torch

from siamreid.retrieval.index_options import IndexOptions

__all__ = ["QUERY_BLOCK", "TorchBackend"]


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

        Distances are computed tile by tile (at most ``max_chunk_elements`` at once). A tile
        takes the whole gallery when that leaves room for many queries; for large galleries it
        takes at least :data:`QUERY_BLOCK` queries against a slice of the gallery, so that
        each matmul is large enough to run near the machine's matmul speed, and the ``k`` best
        of each slice are merged. Every tile is written into one buffer: a fresh 128 MiB
        tensor per tile costs the kernel a page fault per 4 KiB, a quarter of the matmul's
        time (see ``docs/benchmarks.md``).
        """
        n, budget = len(self._gallery), self.options.max_chunk_elements
        q_block = min(len(queries), max(1, budget // max(1, n)))
        if q_block < min(len(queries), QUERY_BLOCK):
            q_block = min(len(queries), QUERY_BLOCK, budget)
        g_block = max(1, budget // max(1, q_block))
        buffer = torch.empty(min(q_block, len(queries)) * min(g_block, n))
        dist_parts: list[torch.Tensor] = []
        index_parts: list[torch.Tensor] = []
        for chunk in torch.split(queries, q_block):
            best: tuple[torch.Tensor, torch.Tensor] | None = None
            for start in range(0, n, g_block):
                partial = self._partial_distances(chunk, start, start + g_block, buffer)
                values, indices = _smallest_k(partial, min(k, partial.shape[1]))
                best = _merge(best, values, indices.add_(start), k)
            assert best is not None  # n >= k >= 1
            # the query's own norm ranks nothing, so it is added to the k kept values only;
            # rounding can push a zero distance slightly negative
            sq_dist = best[0].add_(chunk.pow(2).sum(dim=1, keepdim=True)).clamp_(min=0.0)
            dist_parts.append(sq_dist.sqrt())
            index_parts.append(best[1])
        return torch.cat(dist_parts), torch.cat(index_parts)

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
