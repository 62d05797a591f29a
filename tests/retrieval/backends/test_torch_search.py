"""The exact torch backend's k-smallest selection against a full stable sort, ties included."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from siamreid.retrieval import IndexOptions, TorchBackend
from siamreid.retrieval.backends.torch_search import SELECT_BLOCK, _smallest_k


@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(1, 6),
    extra=st.integers(0, 2 * SELECT_BLOCK),
    rows=st.integers(1, 6),
    levels=st.sampled_from([3, 40, 100_000]),
    seed=st.integers(0, 2**31 - 1),
)
def test_smallest_k_equals_a_stable_sort_on_wide_tiles(
    k: int, extra: int, rows: int, levels: int, seed: int
) -> None:
    # wide enough for the block pass; few distinct levels make ties across blocks common
    width = 8 * (k + 1) * SELECT_BLOCK + extra
    gen = torch.Generator().manual_seed(seed)
    tile = torch.randint(levels, (rows, width), generator=gen).float()
    values, indices = _smallest_k(tile, k)
    ref_values, ref_indices = tile.sort(dim=1, stable=True)
    assert torch.equal(indices, ref_indices[:, :k])
    assert torch.equal(values, ref_values[:, :k])


def test_search_over_a_wide_gallery_equals_numpy_stable_order() -> None:
    gen = torch.Generator().manual_seed(3)
    gallery = torch.randint(-2, 3, (9000, 4), generator=gen).float()  # many exact ties
    queries = torch.randint(-2, 3, (40, 4), generator=gen).float()
    for chunk in (2**25, 40 * 1100):  # the whole gallery, and slices of ~1,100 rows merged
        backend = TorchBackend(IndexOptions(max_chunk_elements=chunk))
        backend.sync(gallery, start=0)
        dist, idx = backend.search(queries, 10)
        sq = ((queries.double()[:, None, :] - gallery.double()[None]) ** 2).sum(-1).numpy()
        ref_idx = np.argsort(sq, axis=1, kind="stable")[:, :10]
        np.testing.assert_array_equal(idx.numpy(), ref_idx)
        ref_dist = np.sqrt(np.take_along_axis(sq, ref_idx, axis=1))
        np.testing.assert_allclose(dist.numpy(), ref_dist, rtol=1e-6, atol=1e-6)
